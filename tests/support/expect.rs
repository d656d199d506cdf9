//! What a test expects of each record it wrote, and the check of a sweep's
//! report and of the zone against those expectations.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Estate;

/// What a test expects the sweep to do with a record: `("deleted", reason)`,
/// `("kept", reason)`, `("held", reason)`, or `("vanished", "")` for one another
/// writer deletes mid-sweep.
pub type Expect = (&'static str, &'static str);

/// A record the estate wrote, with its expected fate.
#[derive(Debug, Clone)]
pub struct Written {
    pub name: String,
    pub rtype: String,
    pub set_identifier: Option<String>,
    pub expect: Option<Expect>,
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

/// Asserts that the report treats `w` as expected; for a kept record, counts
/// it under its reason in `kept`.
fn check_reported(report: &Value, w: &Written, kept: &mut BTreeMap<String, u64>) {
    let Some((outcome, reason)) = w.expect else {
        return;
    };
    let deleted = find(report, "deleted", w);
    let held = find(report, "held", w);
    match outcome {
        "deleted" => {
            let d = deleted.unwrap_or_else(|| panic!("{w:?} not deleted; held: {held:?}"));
            assert_eq!(d["reason"], reason, "{w:?}");
        }
        "held" => {
            let h = held.unwrap_or_else(|| panic!("{w:?} not held; deleted: {deleted:?}"));
            assert_eq!(h["reason"], reason, "{w:?}");
        }
        "vanished" => assert!(
            deleted.is_none() && held.is_none(),
            "{w:?} vanished: not reported"
        ),
        "kept" => {
            assert!(
                deleted.is_none() && held.is_none(),
                "{w:?} should be kept ({reason})"
            );
            *kept.entry(reason.to_string()).or_default() += 1;
        }
        other => panic!("bad expectation {other}"),
    }
}

impl Estate<'_> {
    /// Asserts that every record with an expectation met it in `report`, and
    /// that the zone holds exactly what should survive.
    pub async fn assert_outcome(&self, report: &Value, dry_run: bool) {
        let mut kept: BTreeMap<String, u64> = BTreeMap::new();
        for w in &self.written {
            check_reported(report, w, &mut kept);
        }
        for (reason, n) in kept {
            assert_eq!(report["kept"][&reason].as_u64(), Some(n), "kept.{reason}");
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
            let gone = matches!(w.expect, Some(("vanished", _)))
                || (!dry_run && matches!(w.expect, Some(("deleted", _))));
            assert_eq!(present, !gone, "zone presence of {w:?}");
        }
    }
}
