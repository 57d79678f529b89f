//! End-to-end tests: run the real `ipagate` binary on inputs built in code.

mod cli;
mod corpus;
mod rules;
mod support;
