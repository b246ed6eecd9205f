//! What a command prints and how it exits: the one place that writes to
//! stdout and stderr. Every error passes [`print_error`], which keeps it
//! one line of safe text whatever it quotes.

use crate::log::LogError;
use crate::settings::Settings;
use crate::verify::replay::Exit;

/// Writes the report to stdout, then ends with `verdict`. A closed pipe
/// (`| head -1`) ends quietly with the verdict, as `cat` does; any other
/// write failure (a full disk) is an error: exit 3.
pub fn emit(text: &str, verdict: Exit) -> Exit {
    crate::scratch::exit_if_interrupted();
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => verdict,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => verdict,
        Err(e) => {
            print_error(&format!(
                "cannot write the report to standard output ({e}); check the disk or the file it goes to"
            ));
            Exit::LogFailed
        }
    }
}

/// Writes one line to stdout now (a line a watching process acts on); a
/// closed pipe or a full disk is the exit it calls for.
pub fn write_line(line: &str) -> Result<(), Exit> {
    match emit(&format!("{line}\n"), Exit::Agree) {
        Exit::Agree => Ok(()),
        other => Err(other),
    }
}

/// Prints `error: <message>` on stderr, through the last gate every error
/// passes: whatever a message embeds, it stays one line of safe text.
/// Returns the message as printed.
pub fn print_error(message: &str) -> String {
    use std::io::Write;
    // After a signal, failures are the interruption's doing: the run ends
    // with 128 + the signal and says nothing more.
    crate::scratch::exit_if_interrupted();
    let message = bounded(&crate::text::escaped(message));
    // A stderr that cannot be written (closed, full) loses the message,
    // never the exit code.
    let _ = writeln!(std::io::stderr().lock(), "error: {message}");
    message
}

/// Longest error message printed, in characters: messages quote input,
/// and no input makes an error line longer than this.
const MAX_MESSAGE_CHARS: usize = 2_000;

pub(crate) fn bounded(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => message.to_string(),
        Some((cut, _)) => format!("{}… (cut at {MAX_MESSAGE_CHARS} characters)", &message[..cut]),
    }
}

/// Reports an error on stderr and, for `--json`, as `{"error": ..., "exit": N}`
/// on stdout too, so that a script reading stdout learns why.
pub fn fail(json: bool, exit: Exit, message: String) -> Exit {
    let message = print_error(&message);
    if !json {
        return exit;
    }
    let object = serde_json::json!({ "error": message, "exit": exit.code() });
    match emit(&crate::text::json_escaped(&format!("{object:#}\n")), exit) {
        Exit::LogFailed => Exit::LogFailed,
        _ => exit,
    }
}

/// A scratch directory that cannot be made: the caller's mistake (2) when
/// `HARNESS_SCRATCH_DIR` chose the place, else the machine's (3).
pub fn scratch_failure_exit() -> Exit {
    match Settings::get() {
        Ok(settings) if settings.scratch_dir.is_some() => Exit::BadInput,
        _ => Exit::LogFailed,
    }
}

/// How a log error ends the process: the caller's mistake (2) or the log's
/// failure (3).
pub fn exit_for(error: &LogError) -> Exit {
    match error {
        LogError::AlreadyExists { .. }
        | LogError::InUse { .. }
        | LogError::Missing { .. }
        | LogError::OtherTopic { .. }
        | LogError::BadPartitionCount(_)
        | LogError::BadTopic(_)
        | LogError::BadGroupId(_)
        | LogError::FaultUnsupported(_)
        | LogError::KafkaNotBuilt => Exit::BadInput,
        LogError::ConsumersStillOpen(_)
        | LogError::CommitAfterFailedPoll
        | LogError::Backend { .. }
        | LogError::PollFailed { .. }
        | LogError::Damaged { .. }
        | LogError::BadLayout { .. } => Exit::LogFailed,
    }
}

/// Creates (or empties) the file a timeline page goes to, before a run:
/// the error says why it cannot be written. The replayed file itself is
/// refused, so that a slip of the arguments does not overwrite the input.
pub fn create_page_file(page: &std::path::Path, input: &std::path::Path) -> Result<(), String> {
    let same = std::fs::canonicalize(page).ok().zip(std::fs::canonicalize(input).ok()).is_some_and(|(a, b)| a == b);
    if same {
        return Err(format!(
            "--html {} is the file being replayed; give the page another path",
            crate::text::path(page)
        ));
    }
    std::fs::File::create(page).map(drop).map_err(|e| {
        format!(
            "cannot write the timeline page to {} ({e}); give --html a path in a writable directory",
            crate::text::path(page)
        )
    })
}

/// The command line that replays a file, for its timeline page: `args`
/// as a shell would need them (each quoted unless plain), without the
/// `--html` option that wrote the page.
pub fn replay_command(args: &[std::ffi::OsString]) -> String {
    let mut words = Vec::with_capacity(args.len());
    let mut skip_value = false;
    for arg in args {
        let arg = arg.to_string_lossy();
        if std::mem::take(&mut skip_value) {
            continue;
        }
        if arg == "--html" {
            skip_value = true;
            continue;
        }
        if arg.starts_with("--html=") {
            continue;
        }
        words.push(shell_word(&arg));
    }
    words.join(" ")
}

/// `word` as a POSIX shell reads it back: as is when it holds only
/// characters no shell treats specially, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '=' | ':' | '@' | ',' | '+'));
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', "'\\''")) }
}

#[cfg(test)]
mod command_tests {
    use super::replay_command;

    #[test]
    fn the_replay_command_drops_the_page_option_and_quotes_what_a_shell_would_split() {
        let args: Vec<std::ffi::OsString> =
            ["bin", "replay", "my file's.jsonl", "--html", "out.html", "--durable", "--html=x.html"]
                .iter()
                .map(Into::into)
                .collect();
        assert_eq!(replay_command(&args), "bin replay 'my file'\\''s.jsonl' --durable");
    }
}
