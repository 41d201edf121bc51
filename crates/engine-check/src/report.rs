//! What the kit found: one line per case.

use std::fmt;

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The engine did what the specification says; what was seen.
    Pass(String),
    /// It did not; why.
    Fail(String),
    /// The case could not run (no credential given…); why.
    Skip(String),
}

/// One case and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// The case's name, as in `docs/engine-ws.md` §7 (`asr.recognize`…).
    pub name: &'static str,
    /// How it ended.
    pub outcome: Outcome,
}

/// Every case run against one engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The cases, in the order run.
    pub cases: Vec<CaseResult>,
}

impl Report {
    /// Records a case.
    pub fn push(&mut self, name: &'static str, outcome: Outcome) {
        self.cases.push(CaseResult { name, outcome });
    }

    /// Whether no case failed.
    pub fn all_passed(&self) -> bool {
        !self
            .cases
            .iter()
            .any(|c| matches!(c.outcome, Outcome::Fail(_)))
    }

    /// The outcome of the case named `name`.
    pub fn outcome(&self, name: &str) -> Option<&Outcome> {
        self.cases
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.outcome)
    }

    /// The names of the failed cases.
    pub fn failed(&self) -> Vec<&'static str> {
        self.cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Fail(_)))
            .map(|c| c.name)
            .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mut passed, mut failed, mut skipped) = (0, 0, 0);
        for case in &self.cases {
            let (label, text) = match &case.outcome {
                Outcome::Pass(t) => {
                    passed += 1;
                    ("PASS", t)
                }
                Outcome::Fail(t) => {
                    failed += 1;
                    ("FAIL", t)
                }
                Outcome::Skip(t) => {
                    skipped += 1;
                    ("SKIP", t)
                }
            };
            writeln!(f, "{label}  {:<26} {text}", case.name)?;
        }
        write!(
            f,
            "{} cases: {passed} passed, {failed} failed, {skipped} skipped",
            self.cases.len()
        )
    }
}
