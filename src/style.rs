//! Terminal styling: colour only on a terminal (or when forced), `NO_COLOR` and `TERM=dumb`
//! honoured; archive-derived text is sanitised before it is printed.

use std::io::IsTerminal;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and neither NO_COLOR nor TERM=dumb is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Resolved styling.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    /// Decides whether to colour stdout.
    pub fn for_stdout(choice: ColorChoice) -> Style {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var("TERM").map_or(true, |t| t != "dumb")
                    && std::io::stdout().is_terminal()
            }
        };
        Style { color }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Bold red.
    pub fn error(&self, text: &str) -> String {
        self.paint("1;31", text)
    }
    /// Bold yellow.
    pub fn warning(&self, text: &str) -> String {
        self.paint("1;33", text)
    }
    /// Bold cyan.
    pub fn info(&self, text: &str) -> String {
        self.paint("1;36", text)
    }
    /// Bold.
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
    /// Blue, for gutters.
    pub fn gutter(&self, text: &str) -> String {
        self.paint("1;34", text)
    }
    /// Green.
    pub fn ok(&self, text: &str) -> String {
        self.paint("1;32", text)
    }
}

/// Makes archive-derived text safe for a terminal.
pub fn clean(text: &str) -> String {
    ipagate_formats::sanitize::for_terminal(text)
}
