//! What a test expects a sweep to do with what it wrote — a record of the zone
//! or an instance of a Cloud Map namespace — in one vocabulary, [`Outcome`], and
//! the checks of a report's lists against it, written once for both; here too
//! the check of the zone against the records' expectations.

use std::collections::BTreeMap;
use std::fmt::Debug;

use serde_json::Value;

use super::Estate;

/// What a test expects a sweep to do with a record or an instance it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Kept, counted under this reason in `kept`.
    Kept(&'static str),
    /// Deleted (a record) or deregistered (an instance) for this reason; in a
    /// dry run, reported and still there.
    Removed(&'static str),
    /// Held with this reason, and the decision held back (`decided`) where the
    /// test states it.
    Held(&'static str, Option<&'static str>),
    /// Not the reaper's (an instance without `AWS_INSTANCE_IPV4`): counted as
    /// foreign, never touched.
    Foreign,
    /// Its deregistration was tried and failed: in no list, still there.
    Failed,
    /// Deleted by another writer mid-sweep: in no list, and gone.
    Vanished,
}

/// How a report lists one thing a test wrote: its entry in the list of what was
/// removed (`deleted` or `deregistered`, named by `removed_list`) and in `held`.
pub struct Listed<'a> {
    pub removed_list: &'a str,
    pub removed: Option<Value>,
    pub held: Option<Value>,
    /// Where the entries must point (`ip:port`), when the report says.
    pub target: Option<&'a str>,
    /// Added to each failure message (the report, or nothing).
    pub context: String,
}

impl Outcome {
    /// Asserts that `listed` shows this outcome of `what`: removed or held for
    /// the reason (and decision) expected, at the target where there is one, and
    /// never in both lists; kept, foreign, failed and vanished ones in neither.
    /// A kept one is counted under its reason in `kept`.
    pub fn check(self, what: &impl Debug, listed: &Listed, kept: &mut BTreeMap<&'static str, u64>) {
        let Listed {
            removed_list: list,
            removed: d,
            held: h,
            context,
            ..
        } = listed;
        let neither = d.is_none() && h.is_none();
        match self {
            Outcome::Removed(reason) => {
                let d = d
                    .as_ref()
                    .unwrap_or_else(|| panic!("{what:?} not {list}; held: {h:?}{context}"));
                assert_eq!(d["reason"], reason, "{what:?}");
                listed.assert_target(what, d);
                assert!(h.is_none(), "{what:?} both {list} and held");
            }
            Outcome::Held(reason, decided) => {
                let h = h
                    .as_ref()
                    .unwrap_or_else(|| panic!("{what:?} not held; {list}: {d:?}{context}"));
                match decided {
                    Some(decided) => assert_eq!(
                        (h["reason"].as_str(), h["decided"].as_str()),
                        (Some(reason), Some(decided)),
                        "{what:?}"
                    ),
                    None => assert_eq!(h["reason"], reason, "{what:?}"),
                }
                listed.assert_target(what, h);
                assert!(d.is_none(), "{what:?} both held and {list}");
            }
            Outcome::Kept(reason) => {
                assert!(neither, "{what:?} should be kept ({reason}){context}");
                *kept.entry(reason).or_default() += 1;
            }
            Outcome::Foreign => assert!(neither, "{what:?} is foreign{context}"),
            Outcome::Failed => assert!(neither, "{what:?} failed to deregister{context}"),
            Outcome::Vanished => assert!(neither, "{what:?} vanished: not reported{context}"),
        }
    }

    /// Whether what the test wrote is still there after the sweep.
    pub fn survives(self, dry_run: bool) -> bool {
        match self {
            Outcome::Removed(_) => dry_run,
            Outcome::Vanished => false,
            _ => true,
        }
    }
}

impl Listed<'_> {
    fn assert_target(&self, what: &impl Debug, entry: &Value) {
        if let Some(target) = self.target {
            assert_eq!(entry["target"], target, "{what:?}");
        }
    }
}

/// A record the estate wrote, with its expected fate.
#[derive(Debug, Clone)]
pub struct Written {
    pub name: String,
    pub rtype: String,
    pub set_identifier: Option<String>,
    pub expect: Option<Outcome>,
}

/// The entry of `w` in the report's list `list` (`deleted`, `held`), if any.
fn find(report: &Value, list: &str, w: &Written) -> Option<Value> {
    report[list]
        .as_array()
        .expect(list)
        .iter()
        .find(|r| {
            r["name"] == w.name.as_str()
                && r["type"] == w.rtype.as_str()
                && r["set_identifier"].as_str() == w.set_identifier.as_deref()
        })
        .cloned()
}

impl Estate<'_> {
    /// Asserts that every record with an expectation met it in `report`, and
    /// that the zone holds exactly what should survive.
    pub async fn assert_outcome(&self, report: &Value, dry_run: bool) {
        let mut kept: BTreeMap<&str, u64> = BTreeMap::new();
        for w in &self.written {
            let Some(outcome) = w.expect else {
                continue;
            };
            let listed = Listed {
                removed_list: "deleted",
                removed: find(report, "deleted", w),
                held: find(report, "held", w),
                target: None,
                context: String::new(),
            };
            outcome.check(w, &listed, &mut kept);
        }
        for (reason, n) in kept {
            assert_eq!(report["kept"][reason].as_u64(), Some(n), "kept.{reason}");
        }
        self.assert_survivors(dry_run).await;
    }

    /// Asserts that the zone holds every written record but those deleted (unless
    /// `dry_run`) or vanished.
    async fn assert_survivors(&self, dry_run: bool) {
        let now = self.zone().await;
        for w in &self.written {
            let present = now
                .iter()
                .any(|(n, t, i)| n == &w.name && t == &w.rtype && i == &w.set_identifier);
            let gone = w.expect.is_some_and(|o| !o.survives(dry_run));
            assert_eq!(present, !gone, "zone presence of {w:?}");
        }
    }
}
