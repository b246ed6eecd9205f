//! Progress of a long run on a terminal: a bar on stderr that says which
//! stage a replay is in and how many records are in the log, or how far a
//! soak campaign is. Drawn only when stderr is a terminal (never into a log
//! file or a pipe), and cleared when the run ends, so the report on stdout
//! stays as it is. A soak campaign writes plain periodic lines instead when
//! stderr is not a terminal (CI logs).

use crate::verify::Stage;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

/// The progress display of one replay.
pub struct ReplayProgress {
    bar: ProgressBar,
}

impl ReplayProgress {
    /// A display on stderr (hidden unless stderr is a terminal), first
    /// saying that `what` is being read.
    pub fn reading(what: &str) -> ReplayProgress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(format!("reading {what}"));
        bar.enable_steady_tick(Duration::from_millis(120));
        ReplayProgress { bar }
    }

    /// Shows `stage`.
    pub fn stage(&self, stage: Stage) {
        let message = match stage {
            Stage::Produced { records, of } => {
                self.bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {elapsed} [{bar:30}] {pos}/{len} records produced ({per_sec})",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                self.bar.set_length(of as u64);
                self.bar.set_position(records as u64);
                return;
            }
            Stage::Polling { index, of } => format!("polling: phase {} of {of}", index + 1),
            Stage::FullReplay => "full replay".to_string(),
            Stage::Model => "re-folding in other partition orders, building the model, checking".to_string(),
        };
        self.bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        self.bar.set_message(message);
    }
}

impl Drop for ReplayProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// How often a soak campaign writes a plain progress line when stderr is
/// not a terminal.
pub const SOAK_LINE_EVERY: Duration = Duration::from_secs(10);

/// The progress display of a soak campaign.
pub struct SoakProgress {
    /// The bar, when stderr is a terminal; else plain lines.
    bar: Option<ProgressBar>,
    started: std::time::Instant,
    last_line: std::time::Instant,
}

impl SoakProgress {
    /// A display for a campaign of `total` cases (unknown: `None`).
    pub fn new(total: Option<u64>) -> SoakProgress {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            let template = if total.is_some() {
                "{spinner} {elapsed} [{bar:30}] {pos}/{len} cases, {msg}"
            } else {
                "{spinner} {elapsed} {pos} cases, {msg}"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let now = std::time::Instant::now();
        SoakProgress { bar, started: now, last_line: now }
    }

    /// After each case: the counts and rates; a failure at once, with its
    /// replay command.
    pub fn update(&mut self, outcome: &crate::verify::soak::Outcome, summary: &crate::verify::soak::Summary) {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        let rates = format!(
            "{:.1} histories/s, {:.0} events/s, {} failed",
            summary.cases as f64 / seconds,
            summary.events as f64 / seconds,
            summary.failures.len()
        );
        if let Some(failure) = &outcome.failure {
            let line = format!(
                "FAILED case {}: {}\n  replay: {}",
                failure.case,
                crate::text::escaped(failure.violation.lines().next().unwrap_or_default()),
                failure.replay
            );
            match &self.bar {
                Some(bar) => bar.println(line),
                None => eprintln!("{line}"),
            }
        }
        match &self.bar {
            Some(bar) => {
                bar.set_position(summary.cases);
                bar.set_message(rates);
            }
            None if self.last_line.elapsed() >= SOAK_LINE_EVERY => {
                self.last_line = std::time::Instant::now();
                eprintln!("soak: {} cases, {rates}", summary.cases);
            }
            None => {}
        }
    }
}

impl Drop for SoakProgress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_is_shown_and_the_bar_is_cleared_at_the_end() {
        let progress = ReplayProgress::reading("f.jsonl");
        assert_eq!(progress.bar.message(), "reading f.jsonl");
        progress.stage(Stage::Produced { records: 3, of: 10 });
        assert_eq!((progress.bar.position(), progress.bar.length()), (3, Some(10)));
        progress.stage(Stage::Polling { index: 0, of: 2 });
        assert_eq!(progress.bar.message(), "polling: phase 1 of 2");
        progress.stage(Stage::FullReplay);
        assert_eq!(progress.bar.message(), "full replay");
        let bar = progress.bar.clone();
        drop(progress);
        assert!(bar.is_finished(), "dropping the display clears the bar");
    }
}
