//! End-to-end tests: run the real `ipagate` binary on inputs built in code.

mod build_number;
mod build_number_projects;
mod cli;
mod corpus;
mod lint;
mod papercuts;
mod publish;
mod rules;
mod sandbox;
mod secrets;
mod support;
mod upload;
