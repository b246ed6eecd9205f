//! Progress of a long run on a terminal: a bar on stderr that says which
//! stage a replay is in and how many records are in the log. Drawn only
//! when stderr is a terminal (never into a log file or a pipe), and
//! cleared when the run ends, so the report on stdout stays as it is.

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
