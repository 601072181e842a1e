//! The regex crate's API as far as hull's dependencies use it, on
//! regex-lite (see Cargo.toml for why).

pub use regex_lite::{Captures, Error, Match, Regex, RegexBuilder};
