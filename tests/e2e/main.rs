//! End-to-end tests: run the real `ipagate` binary on inputs built in code.

mod build_number;
mod cli;
mod corpus;
mod lint;
mod rules;
mod sandbox;
mod support;
