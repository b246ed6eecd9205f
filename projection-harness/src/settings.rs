//! Environment settings, read and checked in one place, once.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `HARNESS_SCRATCH_DIR` | where throwaway logs are created | `/dev/shm` if it exists, else the system temp dir |
//! | `HARNESS_FAILURES_DIR` | where failing properties write replay files | `target/failures` |
//! | `PROPTEST_CASES` | cases per property | 256 |
//! | `PROPTEST_MAX_SHRINK_ITERS` | shrink steps per failure | proptest's default |
//! | `PROPTEST_RNG_SEED` | a fixed seed for the property tests | random |
//! | `HARNESS_BENCH_DIR` | where bench fixture logs go | the scratch directory |
//! | `HARNESS_BENCH_DISK_DIR` | the disk the per-send bench compares with tmpfs | the system temp dir |
//! | `HARNESS_BENCH_1M` | `1` adds the million-event bench sizes, `0` does not | `0` |
//! | `HARNESS_BENCH_FLUSH_MB` | size of the cache-flush buffer of the catch-up bench, MiB | 768 |
//! | `KAFKA_BOOTSTRAP` | a Kafka-protocol broker (`host:port[,host:port...]`) the `kafka` tests run against instead of the mock cluster | unset: the mock cluster |
//!
//! A variable that is set but unusable (empty, not a number, zero cases) is
//! an error naming it, never a silent default. proptest reads its own
//! variables too; the harness reads them here first so that a typo stops
//! the run instead of being replaced by a default with a warning.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Every setting the harness reads from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub scratch_dir: Option<PathBuf>,
    pub failures_dir: PathBuf,
    pub proptest_cases: Option<u32>,
    pub proptest_max_shrink_iters: Option<u32>,
    pub proptest_rng_seed: Option<u64>,
    pub bench_dir: Option<PathBuf>,
    pub bench_disk_dir: Option<PathBuf>,
    pub bench_1m: bool,
    pub bench_flush_mb: u32,
    pub kafka_bootstrap: Option<String>,
    /// `HARNESS_CRASH_AT=POINT` or `POINT:N`: abort the process at the Nth
    /// (default first) pass through a named crash point ([`crate::crash`]),
    /// for crash tests.
    pub crash_at: Option<(String, u32)>,
}

/// A set environment variable with an unusable value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {variable}={value}: {problem}; {fix}")]
pub struct SettingError {
    pub variable: &'static str,
    pub value: String,
    pub problem: String,
    pub fix: &'static str,
}

impl Settings {
    /// Reads the settings from `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Settings, SettingError> {
        Ok(Settings {
            scratch_dir: path(&lookup, "HARNESS_SCRATCH_DIR")?,
            failures_dir: path(&lookup, "HARNESS_FAILURES_DIR")?
                .unwrap_or_else(|| Path::new("target").join("failures")),
            proptest_cases: count(&lookup, "PROPTEST_CASES", 1)?,
            proptest_max_shrink_iters: count(&lookup, "PROPTEST_MAX_SHRINK_ITERS", 0)?,
            proptest_rng_seed: number(&lookup, "PROPTEST_RNG_SEED", 0, u64::MAX)?,
            bench_dir: path(&lookup, "HARNESS_BENCH_DIR")?,
            bench_disk_dir: path(&lookup, "HARNESS_BENCH_DISK_DIR")?,
            bench_1m: number(&lookup, "HARNESS_BENCH_1M", 0, 1)? == Some(1),
            bench_flush_mb: count(&lookup, "HARNESS_BENCH_FLUSH_MB", 1)?.unwrap_or(768),
            crash_at: crash_at(&lookup)?,
            kafka_bootstrap: bootstrap(&lookup)?,
        })
    }

    /// The process's settings, read from the environment on first use.
    pub fn get() -> Result<&'static Settings, SettingError> {
        static SETTINGS: OnceLock<Result<Settings, SettingError>> = OnceLock::new();
        SETTINGS.get_or_init(|| Settings::from_lookup(|name| std::env::var_os(name))).as_ref().map_err(Clone::clone)
    }
}

fn shown(value: &OsString) -> String {
    crate::text::quoted(&value.to_string_lossy())
}

fn path(lookup: &impl Fn(&str) -> Option<OsString>, variable: &'static str) -> Result<Option<PathBuf>, SettingError> {
    match lookup(variable) {
        None => Ok(None),
        Some(value) if value.is_empty() => Err(SettingError {
            variable,
            value: shown(&value),
            problem: "it is empty".into(),
            fix: "set it to a directory or unset it",
        }),
        Some(value) => crate::log::check_path(&value).map(Some).map_err(|problem| SettingError {
            variable,
            value: shown(&value),
            problem,
            fix: "set it to a usable directory or unset it",
        }),
    }
}

fn count(
    lookup: &impl Fn(&str) -> Option<OsString>,
    variable: &'static str,
    min: u32,
) -> Result<Option<u32>, SettingError> {
    // In range by construction: at most u32::MAX.
    Ok(number(lookup, variable, u64::from(min), u64::from(u32::MAX))?.map(|n| n as u32))
}

fn number(
    lookup: &impl Fn(&str) -> Option<OsString>,
    variable: &'static str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, SettingError> {
    let Some(value) = lookup(variable) else { return Ok(None) };
    let parsed = value.to_str().and_then(|text| text.trim().parse::<u64>().ok());
    match parsed {
        Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(SettingError {
            variable,
            value: shown(&value),
            problem: format!("it is not a whole number from {min} to {max}"),
            fix: "fix the value or unset the variable",
        }),
    }
}

/// `Ok` if `text` is `host:port` entries separated by commas, as
/// librdkafka's `bootstrap.servers` takes them; else what is wrong. The one
/// rule for `KAFKA_BOOTSTRAP` and `--kafka`.
pub fn check_bootstrap(text: &str) -> Result<(), String> {
    for entry in text.split(',') {
        let port = entry.rsplit_once(':').map(|(host, port)| (host, port.parse::<u16>()));
        match port {
            Some((host, Ok(port))) if port > 0 && !host.is_empty() && host.chars().all(|c| c.is_ascii_graphic()) => {}
            _ => return Err(format!("{} is not host:port", crate::text::quoted(entry))),
        }
    }
    Ok(())
}

fn bootstrap(lookup: &impl Fn(&str) -> Option<OsString>) -> Result<Option<String>, SettingError> {
    const VARIABLE: &str = "KAFKA_BOOTSTRAP";
    let Some(value) = lookup(VARIABLE) else { return Ok(None) };
    let fail = |problem: String| SettingError {
        variable: VARIABLE,
        value: shown(&value),
        problem,
        fix: "set it to host:port (several separated by commas), for example localhost:9092, or unset it",
    };
    let text = value.to_str().ok_or_else(|| fail("it is not UTF-8".into()))?;
    check_bootstrap(text).map_err(fail)?;
    Ok(Some(text.to_string()))
}

fn crash_at(lookup: &impl Fn(&str) -> Option<OsString>) -> Result<Option<(String, u32)>, SettingError> {
    const VARIABLE: &str = "HARNESS_CRASH_AT";
    let Some(value) = lookup(VARIABLE) else { return Ok(None) };
    let fail = |problem: String| SettingError {
        variable: VARIABLE,
        value: shown(&value),
        problem,
        fix: "use one of the crash points after-append, before-store-commit, after-store-commit or after-log-commit (crash::POINTS), optionally with :N, or unset the variable",
    };
    let text = value.to_str().ok_or_else(|| fail("it is not UTF-8".into()))?;
    let (name, nth) = match text.split_once(':') {
        Some((name, nth)) => (
            name,
            nth.parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| fail(format!("{} is not a count from 1", crate::text::quoted(nth))))?,
        ),
        None => (text, 1),
    };
    if !crate::crash::POINTS.contains(&name) {
        return Err(fail(format!("{} is not a crash point", crate::text::quoted(name))));
    }
    Ok(Some((name.to_string(), nth)))
}

/// A temporary directory for a throwaway log: under `HARNESS_SCRATCH_DIR` if
/// set (to measure or debug on a chosen disk), else on tmpfs (`/dev/shm`)
/// when it exists, because merkql fsyncs every send, else in the system
/// temp dir.
pub fn scratch_dir() -> std::io::Result<tempfile::TempDir> {
    let settings = Settings::get().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let builder = || {
        let mut b = tempfile::Builder::new();
        b.prefix("harness-log-");
        b
    };
    if let Some(parent) = &settings.scratch_dir {
        // The variable's value is the likely culprit: the error names it.
        let named = |e: std::io::Error| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "HARNESS_SCRATCH_DIR={}: {e}; fix the variable or unset it",
                    crate::text::quoted(&parent.to_string_lossy())
                ),
            )
        };
        std::fs::create_dir_all(parent).map_err(named)?;
        return builder().tempdir_in(parent).map_err(named);
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = builder().tempdir_in(shm)
    {
        return Ok(dir);
    }
    builder().tempdir()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_bad_crash_point_is_told_every_crash_point() {
        let error = settings(&[("HARNESS_CRASH_AT", "no-such-point")]).unwrap_err();
        for point in crate::crash::POINTS {
            assert!(error.fix.contains(point), "{point}: {}", error.fix);
        }
    }

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingError> {
        let map: HashMap<String, OsString> = vars.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.failures_dir, Path::new("target").join("failures"));
        assert_eq!((s.scratch_dir, s.proptest_cases, s.proptest_max_shrink_iters), (None, None, None));
        assert_eq!((s.proptest_rng_seed, s.bench_1m, s.bench_flush_mb), (None, false, 768));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (variable, value) in [
            ("PROPTEST_CASES", "lots"),
            ("PROPTEST_CASES", "0"),
            ("PROPTEST_MAX_SHRINK_ITERS", "-1"),
            ("HARNESS_SCRATCH_DIR", ""),
        ] {
            let error = settings(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable);
            assert!(error.to_string().starts_with(&format!("environment variable {variable}=")), "{error}");
        }
        assert_eq!(settings(&[("PROPTEST_CASES", "64")]).unwrap().proptest_cases, Some(64));
        let dirs = settings(&[("HARNESS_FAILURES_DIR", "/x"), ("HARNESS_SCRATCH_DIR", "/y")]).unwrap();
        assert_eq!((dirs.failures_dir, dirs.scratch_dir), (PathBuf::from("/x"), Some(PathBuf::from("/y"))));
        assert_eq!(settings(&[("PROPTEST_MAX_SHRINK_ITERS", "0")]).unwrap().proptest_max_shrink_iters, Some(0));
        assert_eq!(settings(&[("PROPTEST_RNG_SEED", "42")]).unwrap().proptest_rng_seed, Some(42));
        assert!(settings(&[("HARNESS_BENCH_1M", "1")]).unwrap().bench_1m);
        assert!(!settings(&[("HARNESS_BENCH_1M", "0")]).unwrap().bench_1m);
    }

    #[test]
    fn a_kafka_bootstrap_is_host_port_entries() {
        for good in ["localhost:9092", "10.0.0.1:9092,10.0.0.2:19092", "[::1]:9092"] {
            assert_eq!(settings(&[("KAFKA_BOOTSTRAP", good)]).unwrap().kafka_bootstrap.as_deref(), Some(good));
        }
        for bad in ["", "localhost", "localhost:", ":9092", "host:0", "host:65536", "a:1,,b:2", "a b:1", "h:9092\n"] {
            let error = settings(&[("KAFKA_BOOTSTRAP", bad)]).unwrap_err();
            assert_eq!(error.variable, "KAFKA_BOOTSTRAP", "{bad:?}");
            assert!(error.to_string().contains("host:port"), "{error}");
        }
        assert_eq!(settings(&[]).unwrap().kafka_bootstrap, None);
    }
}
