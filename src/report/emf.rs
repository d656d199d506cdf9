//! The invocation's metrics as CloudWatch Embedded Metric Format lines (namespace
//! `EcsDnsReaper`): CloudWatch extracts them from the log stream, so metrics cost
//! no API call.

use super::log::count_by_reason;
use super::{Report, ReportedRecord};

impl Report {
    /// One line of invocation totals (`GuardTripped` counts a namespace's guard
    /// too), then one per deletion and hold reason, with a `Reason` dimension —
    /// Cloud Map's as `Deregistered` and `HeldInstances`.
    pub fn emf_line(&self, timestamp_ms: u64) -> String {
        let metric = |name: &str, unit: &str| serde_json::json!({"Name": name, "Unit": unit});
        let mut lines = Vec::new();
        let namespaces = self.cloud_map.as_deref().unwrap_or_default();
        let base = serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": "EcsDnsReaper",
                    "Dimensions": [[]],
                    "Metrics": [
                        metric("RecordsScanned", "Count"),
                        metric("RecordsOwned", "Count"),
                        metric("GuardTripped", "Count"),
                        metric("SweepDuration", "Milliseconds"),
                    ],
                }],
            },
            "Trigger": self.trigger,
            "RecordsScanned": self.records.scanned,
            "RecordsOwned": self.records.owned,
            "GuardTripped": u8::from(self.guard.tripped || namespaces.iter().any(|e| e.guard.tripped)),
            "SweepDuration": self.duration_ms,
        });
        lines.push(base.to_string());
        let reasons = |list: &[ReportedRecord]| list.iter().map(|r| r.reason).collect::<Vec<_>>();
        let deregistered = namespaces
            .iter()
            .flat_map(|e| &e.deregistered)
            .map(|r| r.reason);
        let held_instances = namespaces.iter().flat_map(|e| &e.held).map(|r| r.reason);
        let counted = [
            ("Deleted", reasons(&self.deleted)),
            ("Held", reasons(&self.held)),
            ("Deregistered", deregistered.collect()),
            ("HeldInstances", held_instances.collect()),
        ];
        for (metric_name, list) in counted {
            for (reason, count) in count_by_reason(list) {
                lines.push(
                    serde_json::json!({
                        "_aws": {
                            "Timestamp": timestamp_ms,
                            "CloudWatchMetrics": [{
                                "Namespace": "EcsDnsReaper",
                                "Dimensions": [["Reason"]],
                                "Metrics": [metric(metric_name, "Count")],
                            }],
                        },
                        "Reason": reason,
                        metric_name: count,
                    })
                    .to_string(),
                );
            }
        }
        lines.join("\n")
    }
}
