//! The examples' command line and terminal output, shared by the tokio and smol examples.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::load::LoadConfig;
use super::{Config, Progress};

/// The examples' options: `--seconds`, `--connections`, `--port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How long the load runs.
    pub seconds: u64,
    /// Connections open at once.
    pub connections: usize,
    /// The port to listen on; 0 picks a free one.
    pub port: u16,
}

impl Default for Options {
    fn default() -> Self {
        Self { seconds: 5, connections: 64, port: 0 }
    }
}

/// The usage text.
pub const USAGE: &str = "\
usage: service [--seconds N] [--connections N] [--port N]

  --seconds N       how long the load generator runs (default 5)
  --connections N   loopback connections open at once (default 64)
  --port N          port to listen on, on 127.0.0.1 (default 0: any free port)

Ctrl-C stops the load early; the service still shuts down in order and prints its summary.";

/// Why the command line was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArgsError {
    /// `--help` was given: print [`USAGE`].
    Help,
    /// An option this program does not know.
    Unknown(String),
    /// An option without its value, or with one that is not a number in range.
    BadValue {
        /// The option.
        option: String,
        /// What followed it, if anything.
        value: Option<String>,
    },
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgsError::Help => f.write_str(USAGE),
            ArgsError::Unknown(option) => write!(f, "unknown option `{option}`\n\n{USAGE}"),
            ArgsError::BadValue { option, value: Some(value) } => {
                write!(f, "`{option}` needs a positive number, got `{value}`\n\n{USAGE}")
            }
            ArgsError::BadValue { option, value: None } => {
                write!(f, "`{option}` needs a value\n\n{USAGE}")
            }
        }
    }
}

impl std::error::Error for ArgsError {}

impl Options {
    /// Parses the arguments after the program name.
    ///
    /// # Errors
    ///
    /// [`ArgsError`] for `--help`, an unknown option or a bad value.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, ArgsError> {
        let mut options = Options::default();
        let mut args = args.into_iter();
        while let Some(option) = args.next() {
            let (name, inline) = match option.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (option.clone(), None),
            };
            if name == "--help" || name == "-h" {
                return Err(ArgsError::Help);
            }
            if !matches!(name.as_str(), "--seconds" | "--connections" | "--port") {
                return Err(ArgsError::Unknown(option));
            }
            let value = inline.or_else(|| args.next());
            let bad = || ArgsError::BadValue { option: name.clone(), value: value.clone() };
            let number: u64 = value.as_deref().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
            match name.as_str() {
                "--seconds" if number > 0 => options.seconds = number,
                "--connections" if number > 0 => {
                    options.connections = usize::try_from(number).map_err(|_| bad())?;
                }
                "--port" => options.port = u16::try_from(number).map_err(|_| bad())?,
                _ => return Err(bad()),
            }
        }
        Ok(options)
    }

    /// The service configuration for these options.
    pub fn config(&self) -> Config {
        Config { addr: SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)), ..Config::default() }
    }

    /// The load for these options.
    pub fn load(&self) -> LoadConfig {
        LoadConfig {
            duration: Duration::from_secs(self.seconds),
            connections: self.connections,
            ..LoadConfig::default()
        }
    }
}

/// Prints progress: one line rewritten in place on a terminal, plain lines otherwise.
#[derive(Debug, Clone, Copy)]
pub struct ProgressLine {
    terminal: bool,
}

impl ProgressLine {
    /// Checks whether stdout is a terminal.
    pub fn new() -> Self {
        Self { terminal: std::io::stdout().is_terminal() }
    }

    /// Prints one report.
    pub fn print(&self, progress: &Progress) {
        let mut out = std::io::stdout().lock();
        let _ = if self.terminal {
            write!(out, "\r\x1b[2K{progress}")
        } else {
            writeln!(out, "{progress}")
        };
        let _ = out.flush();
    }

    /// Ends the in-place line, if any, so what follows starts on a line of its own.
    pub fn finish(&self) {
        if self.terminal {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out);
        }
    }
}

impl Default for ProgressLine {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, ArgsError> {
        Options::parse(args.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn options_parse_by_hand() {
        assert_eq!(parse(&[]), Ok(Options::default()));
        let options = parse(&["--seconds", "2", "--connections=8", "--port", "4000"]);
        assert_eq!(options, Ok(Options { seconds: 2, connections: 8, port: 4000 }));
        assert_eq!(parse(&["--help"]), Err(ArgsError::Help));
        assert_eq!(parse(&["--verbose"]), Err(ArgsError::Unknown("--verbose".to_owned())));
        let zero = parse(&["--seconds", "0"]);
        assert_eq!(
            zero,
            Err(ArgsError::BadValue { option: "--seconds".into(), value: Some("0".into()) })
        );
        assert_eq!(
            parse(&["--port"]),
            Err(ArgsError::BadValue { option: "--port".into(), value: None })
        );
        assert!(parse(&["--port", "70000"]).is_err());
    }
}
