//! End-to-end tests: run the real `ipagate` binary on inputs built in code.

mod support;
mod corpus;
