//! Apply: the decided deletions, written to Route 53, and `STOP_UNHEALTHY_TASKS`.
//!
//! Records are deleted with DELETE changes that repeat each record set exactly as it
//! was listed, in batches within Route 53's limits. Route 53 applies a batch all or
//! nothing; when it rejects one because some of its changes no longer match, those
//! changes are taken out and the rest is sent again, so one record that changed
//! under us does not keep the others alive.

use aws_sdk_route53::error::{DisplayErrorContext, SdkError};
use aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsError;
use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch};

use super::route53::to_sdk;
use crate::model::{RecordSet, WriteOutcome};

/// Route 53 accepts at most 1,000 ResourceRecord elements per change batch.
pub const MAX_BATCH_RECORDS: usize = 1000;
/// … and at most 32,000 characters across the Value elements of a batch.
pub const MAX_BATCH_VALUE_CHARS: usize = 32_000;

/// Splits `sets` into batches within Route 53's limits, as index ranges.
pub fn batches(sets: &[RecordSet]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut records, mut chars) = (0, 0, 0);
    for (i, set) in sets.iter().enumerate() {
        let (r, c) = (set.values.len().max(1), set.value_chars());
        if i > start && (records + r > MAX_BATCH_RECORDS || chars + c > MAX_BATCH_VALUE_CHARS) {
            out.push(start..i);
            (start, records, chars) = (i, 0, 0);
        }
        records += r;
        chars += c;
    }
    if start < sets.len() {
        out.push(start..sets.len());
    }
    out
}

/// Deletes `sets` from the zone; one outcome per set, in order. Batches not yet
/// started when `stop_at` has passed are [`WriteOutcome::Skipped`]; one started
/// before it ends, retries included, soon after it ([`super::write_timeouts`]).
pub async fn delete_records(
    client: &aws_sdk_route53::Client,
    zone_id: &str,
    sets: &[RecordSet],
    stop_at: Option<tokio::time::Instant>,
) -> Vec<WriteOutcome> {
    let mut outcomes = vec![WriteOutcome::Skipped; sets.len()];
    for range in batches(sets) {
        if super::past(stop_at) {
            break;
        }
        let indices: Vec<usize> = range.collect();
        delete_batch(client, zone_id, sets, indices, &mut outcomes, stop_at).await;
    }
    outcomes
}

/// Sends one batch; on `InvalidChangeBatch` takes out the changes Route 53 names
/// and resends the rest, or, when the messages name none, splits the batch in two.
async fn delete_batch(
    client: &aws_sdk_route53::Client,
    zone_id: &str,
    sets: &[RecordSet],
    indices: Vec<usize>,
    outcomes: &mut [WriteOutcome],
    stop_at: Option<tokio::time::Instant>,
) {
    let mut pending = vec![indices];
    while let Some(batch) = pending.pop() {
        if batch.is_empty() {
            continue;
        }
        if super::past(stop_at) {
            break;
        }
        match send(client, zone_id, sets, &batch, stop_at).await {
            Ok(()) => batch
                .iter()
                .for_each(|&i| outcomes[i] = WriteOutcome::Deleted),
            Err(BatchError::Rejected(messages)) => {
                let named = attribute(&messages, sets, &batch);
                if batch.len() == 1 {
                    let message = messages.join("; ");
                    outcomes[batch[0]] = single_outcome(&message);
                } else if named.is_empty() {
                    let (left, right) = batch.split_at(batch.len() / 2);
                    pending.push(right.to_vec());
                    pending.push(left.to_vec());
                } else {
                    for (i, message) in &named {
                        outcomes[*i] = single_outcome(message);
                    }
                    pending.push(
                        batch
                            .into_iter()
                            .filter(|i| !named.iter().any(|(n, _)| n == i))
                            .collect(),
                    );
                }
            }
            Err(BatchError::Other(message)) => batch
                .iter()
                .for_each(|&i| outcomes[i] = WriteOutcome::Failed(message.clone())),
            Err(BatchError::Unanswered(message)) => batch
                .iter()
                .for_each(|&i| outcomes[i] = WriteOutcome::Unconfirmed(message.clone())),
        }
    }
}

/// Route 53's wording for a DELETE of a record set that is not there.
fn single_outcome(message: &str) -> WriteOutcome {
    if message.contains("but it was not found") {
        WriteOutcome::Vanished
    } else {
        WriteOutcome::Conflict(message.to_string())
    }
}

/// Matches Route 53's per-change messages — `Tried to delete resource record set
/// [name='…', type='…', set-identifier='…'] but …` — to the batch's changes.
fn attribute(messages: &[String], sets: &[RecordSet], batch: &[usize]) -> Vec<(usize, String)> {
    let norm = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
    let mut named = Vec::new();
    for message in messages.iter().flat_map(|m| split_messages(m)) {
        let field = |key: &str| {
            let start = message.find(&format!("{key}='"))? + key.len() + 2;
            let end = message[start..].find('\'')? + start;
            Some(message[start..end].to_string())
        };
        let (Some(name), Some(rtype)) = (field("name"), field("type")) else {
            continue;
        };
        let id = field("set-identifier");
        if let Some(&i) = batch.iter().find(|&&i| {
            let s = &sets[i];
            norm(&s.name) == norm(&name) && s.rtype == rtype && s.set_identifier == id
        }) {
            if !named.iter().any(|(n, _)| *n == i) {
                named.push((i, message.to_string()));
            }
        }
    }
    named
}

/// Route 53 may pack several change messages into one string, as a list
/// `[Tried to …, Tried to …]`.
fn split_messages(message: &str) -> Vec<&str> {
    message.split("Tried to ").skip(1).collect()
}

enum BatchError {
    /// InvalidChangeBatch: some change does not apply; Route 53's messages.
    Rejected(Vec<String>),
    /// Sent, but cut off by the deadline's timeouts before Route 53 answered:
    /// the change may still be applied.
    Unanswered(String),
    Other(String),
}

/// Route 53's configuration override for a write bounded by the deadline.
fn bounded(stop_at: Option<tokio::time::Instant>) -> aws_sdk_route53::config::Builder {
    let mut config = aws_sdk_route53::config::Builder::default();
    config.set_timeout_config(super::write_timeouts(stop_at));
    config
}

async fn send(
    client: &aws_sdk_route53::Client,
    zone_id: &str,
    sets: &[RecordSet],
    batch: &[usize],
    stop_at: Option<tokio::time::Instant>,
) -> Result<(), BatchError> {
    let changes = batch
        .iter()
        .map(|&i| {
            let set = to_sdk(&sets[i]).map_err(|e| BatchError::Other(e.to_string()))?;
            Change::builder()
                .action(ChangeAction::Delete)
                .resource_record_set(set)
                .build()
                .map_err(|e| BatchError::Other(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let change_batch = ChangeBatch::builder()
        .comment("ecs-dns-reaper: stale service discovery records")
        .set_changes(Some(changes))
        .build()
        .map_err(|e| BatchError::Other(e.to_string()))?;
    match client
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(change_batch)
        .customize()
        .config_override(bounded(stop_at))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(e)) => match e.err() {
            ChangeResourceRecordSetsError::InvalidChangeBatch(icb) => {
                let mut messages = icb.messages().to_vec();
                messages.extend(icb.message().map(String::from));
                Err(BatchError::Rejected(messages))
            }
            other => Err(BatchError::Other(format!(
                "route53:ChangeResourceRecordSets failed: {}",
                DisplayErrorContext(other)
            ))),
        },
        Err(e @ SdkError::TimeoutError(_)) => Err(BatchError::Unanswered(format!(
            "deadline near: route53:ChangeResourceRecordSets did not answer in the time left ({}); \
             Route 53 may still apply the deletion of {} record set(s), not reported as deleted",
            DisplayErrorContext(&e),
            batch.len()
        ))),
        Err(e) => Err(BatchError::Other(format!(
            "route53:ChangeResourceRecordSets failed: {}",
            DisplayErrorContext(&e)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, id: Option<&str>, value: &str) -> RecordSet {
        RecordSet {
            name: name.into(),
            rtype: "SRV".into(),
            set_identifier: id.map(String::from),
            weight: Some(1),
            ttl: Some(60),
            values: vec![value.into()],
            health_check_id: None,
            special: None,
        }
    }

    #[test]
    fn batches_respect_both_route53_limits() {
        let small: Vec<RecordSet> = (0..2500)
            .map(|i| set("a.", Some(&i.to_string()), "1 1 80 h"))
            .collect();
        let b = batches(&small);
        assert_eq!(b, vec![0..1000, 1000..2000, 2000..2500]);
        // 100-character values: 320 fit in 32,000 characters.
        let long = "x".repeat(100);
        let wide: Vec<RecordSet> = (0..700)
            .map(|i| set("a.", Some(&i.to_string()), &long))
            .collect();
        assert_eq!(batches(&wide), vec![0..320, 320..640, 640..700]);
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn route53_messages_name_the_failing_changes() {
        let sets = vec![
            set("calc.sd.internal.", Some("h:1"), "v"),
            set("calc.sd.internal.", Some("h:2"), "v"),
            set("web.sd.internal.", Some("h:3"), "v"),
        ];
        let messages = vec![
            "[Tried to delete resource record set [name='calc.sd.internal.', type='SRV', set-identifier='h:2'] but the values provided do not match the current values, Tried to delete resource record set [name='web.sd.internal', type='SRV', set-identifier='h:3'] but it was not found]".to_string(),
        ];
        let named = attribute(&messages, &sets, &[0, 1, 2]);
        assert_eq!(
            named.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(matches!(
            single_outcome(&named[0].1),
            WriteOutcome::Conflict(_)
        ));
        assert_eq!(single_outcome(&named[1].1), WriteOutcome::Vanished);
        assert!(attribute(&["Invalid request".to_string()], &sets, &[0, 1, 2]).is_empty());
    }
}
