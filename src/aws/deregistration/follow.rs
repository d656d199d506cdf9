//! Following deregistrations to their end.
//!
//! The operations are followed with ListOperations, which answers for up to 100
//! operations a call, filtered to deregistrations (`TYPE`), updated since the
//! first submission (`UPDATE_DATE`), of the one service when there is one
//! (`SERVICE_ID`). Cloud Map "gets `MaxResults` operations and then filters
//! them" (ListOperations, NextToken), in an order the reference does not give:
//! a round pages only until it has seen every operation still followed, and the
//! next round starts at the page on which it saw the first of them. GetOperation
//! follows an operation a listing did not show, a `FAIL` (only GetOperation has
//! its `ErrorCode`), and every operation when fewer are followed than the last
//! listing took pages (then it is the cheaper).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_servicediscovery::error::DisplayErrorContext;
use aws_sdk_servicediscovery::types::{
    FilterCondition, OperationFilter, OperationFilterName, OperationStatus,
};
use aws_sdk_servicediscovery::Client;
use futures::stream::{self, StreamExt};
use tokio::time::Instant;

use super::super::past;
use super::{bounded, what, Target, CONCURRENCY};
use crate::model::WriteOutcome;

/// How long to follow the operations when the invocation has no deadline (the
/// command line): Cloud Map usually finishes a deregistration in seconds.
const PATIENCE: Duration = Duration::from_secs(120);

/// ListOperations' most operations a page (and its default).
const LIST_PAGE: i32 = 100;

/// How far this host's clock may be off Cloud Map's, in the `UPDATE_DATE`
/// window; the window ends a day after the first submission.
const CLOCK_SKEW: Duration = Duration::from_secs(300);
const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The pause before the first round (a poll at once would see `SUBMITTED`),
/// doubling up to the longest.
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const LONGEST_PAUSE: Duration = Duration::from_secs(2);

/// The ListOperations filters for the operations of `targets` submitted from
/// `since` on.
fn filters(targets: &[Target], since: SystemTime) -> Vec<OperationFilter> {
    let epoch = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string()
    };
    let from = since.checked_sub(CLOCK_SKEW).unwrap_or(since);
    let filter = |name, condition, values: Vec<String>| {
        OperationFilter::builder()
            .name(name)
            .condition(condition)
            .set_values(Some(values))
            .build()
            .ok()
    };
    let services: HashSet<&str> = targets.iter().map(|(s, _)| s.as_str()).collect();
    let one_service = match services.into_iter().collect::<Vec<_>>().as_slice() {
        [one] => filter(
            OperationFilterName::ServiceId,
            FilterCondition::Eq,
            vec![one.to_string()],
        ),
        _ => None,
    };
    [
        filter(
            OperationFilterName::Type,
            FilterCondition::Eq,
            vec!["DEREGISTER_INSTANCE".into()],
        ),
        filter(
            OperationFilterName::UpdateDate,
            FilterCondition::Between,
            vec![epoch(from), epoch(since + WINDOW)],
        ),
        one_service,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// What one observation of an operation said.
enum Poll {
    Done(WriteOutcome),
    Pending(String),
}

/// The operations being followed and what is known of each.
pub(super) struct Follow<'a> {
    targets: &'a [Target],
    operations: Vec<Result<String, WriteOutcome>>,
    outcomes: Vec<Option<WriteOutcome>>,
    last: Vec<String>,
    filters: Vec<OperationFilter>,
    /// The token of the page on which the last listing first saw an operation
    /// still followed (`None`: the first page).
    resume: Option<String>,
    /// Pages the last listing took.
    list_cost: usize,
}

impl<'a> Follow<'a> {
    pub(super) fn new(
        targets: &'a [Target],
        operations: Vec<Result<String, WriteOutcome>>,
        since: SystemTime,
    ) -> Self {
        Follow {
            outcomes: operations
                .iter()
                .map(|s| s.as_ref().err().cloned())
                .collect(),
            last: vec!["SUBMITTED".to_string(); targets.len()],
            filters: filters(targets, since),
            targets,
            operations,
            resume: None,
            list_cost: 1,
        }
    }

    /// The followed operations without an outcome: (index, operation id).
    fn pending(&self) -> Vec<(usize, String)> {
        (self.operations.iter().enumerate())
            .filter(|(i, _)| self.outcomes[*i].is_none())
            .filter_map(|(i, op)| Some((i, op.as_ref().ok()?.clone())))
            .collect()
    }

    /// Rounds of following, paused 500 ms, 1 s, then 2 s apart, until every
    /// operation has ended or the next round would start after the stop point.
    pub(super) async fn run(&mut self, sd: &Client, stop_at: Option<Instant>) {
        let give_up = stop_at.unwrap_or_else(|| Instant::now() + PATIENCE);
        let mut pause = FIRST_PAUSE;
        while !self.pending().is_empty() && Instant::now() + pause < give_up {
            tokio::time::sleep(pause).await;
            self.round(sd, stop_at).await;
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }

    /// One round: a listing when it is the cheaper, then GetOperation for what
    /// the listing did not settle.
    async fn round(&mut self, sd: &Client, stop_at: Option<Instant>) {
        let pending = self.pending();
        if pending.len() <= self.list_cost {
            return self.get_each(sd, pending, stop_at).await;
        }
        let seen = match self.list(sd, &pending, stop_at).await {
            Ok(seen) => seen,
            Err(e) => {
                for (i, op) in pending {
                    self.outcomes[i] = Some(WriteOutcome::Unconfirmed(format!(
                        "{}: operation {op} could not be followed: {e}",
                        what(&self.targets[i])
                    )));
                }
                return;
            }
        };
        let mut unsettled = Vec::new();
        for (i, op) in pending {
            match seen.get(&op) {
                Some(OperationStatus::Success) => self.outcomes[i] = Some(WriteOutcome::Deleted),
                Some(OperationStatus::Fail) | None => unsettled.push((i, op)),
                Some(status) => self.last[i] = status.as_str().to_string(),
            }
        }
        self.get_each(sd, unsettled, stop_at).await;
    }

    /// Lists the operations until every one of `pending` has been seen, from
    /// where the last listing first saw one; their statuses. A token from an
    /// earlier round that Cloud Map refuses restarts the listing once.
    async fn list(
        &mut self,
        sd: &Client,
        pending: &[(usize, String)],
        stop_at: Option<Instant>,
    ) -> Result<HashMap<String, OperationStatus>, String> {
        let wanted: HashSet<&str> = pending.iter().map(|(_, op)| op.as_str()).collect();
        let mut seen = HashMap::new();
        let (mut token, mut pages, mut first) = (self.resume.clone(), 0, None);
        while !past(stop_at) {
            let (found, next) = match list_page(sd, &self.filters, token.clone(), stop_at).await {
                Ok(page) => page,
                Err(_) if pages == 0 && token.is_some() => {
                    (self.resume, token) = (None, None);
                    continue;
                }
                Err(e) => return Err(e),
            };
            pages += 1;
            for (id, status) in found
                .into_iter()
                .filter(|(id, _)| wanted.contains(id.as_str()))
            {
                first.get_or_insert_with(|| token.clone());
                seen.insert(id, status);
            }
            match next {
                _ if seen.len() == wanted.len() => break,
                Some(next) if token.as_ref() != Some(&next) => token = Some(next),
                Some(_) => {
                    return Err(
                        "servicediscovery:ListOperations: page token did not advance".into(),
                    )
                }
                None => break,
            }
        }
        self.list_cost = pages.max(1);
        if let Some(at) = first {
            self.resume = at;
        }
        Ok(seen)
    }

    /// GetOperation of each of `operations`.
    async fn get_each(
        &mut self,
        sd: &Client,
        operations: Vec<(usize, String)>,
        stop_at: Option<Instant>,
    ) {
        let targets = self.targets;
        let polled: Vec<(usize, Option<Poll>)> = stream::iter(operations)
            .map(|(i, op)| async move {
                let poll = match past(stop_at) {
                    true => None,
                    false => Some(poll(sd, &targets[i], &op, stop_at).await),
                };
                (i, poll)
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        for (i, p) in polled {
            match p {
                Some(Poll::Done(outcome)) => self.outcomes[i] = Some(outcome),
                Some(Poll::Pending(status)) => self.last[i] = status,
                None => {}
            }
        }
    }

    /// One outcome per target: what the operation ended in, or that it was still
    /// under way when the reaper had to stop following it.
    pub(super) fn finish(self) -> Vec<WriteOutcome> {
        let Follow {
            targets,
            operations,
            outcomes,
            last,
            ..
        } = self;
        outcomes
            .into_iter()
            .enumerate()
            .map(|(i, outcome)| {
                outcome.unwrap_or_else(|| {
                    let operation = operations[i].as_deref().unwrap_or_default();
                    WriteOutcome::Unconfirmed(format!(
                        "{}: operation {operation} still {} when the reaper had to stop following it",
                        what(&targets[i]),
                        last[i]
                    ))
                })
            })
            .collect()
    }
}

/// One ListOperations page: the (id, status) of its operations and the next token.
async fn list_page(
    sd: &Client,
    filters: &[OperationFilter],
    token: Option<String>,
    stop_at: Option<Instant>,
) -> Result<(Vec<(String, OperationStatus)>, Option<String>), String> {
    let out = sd
        .list_operations()
        .set_filters(Some(filters.to_vec()))
        .max_results(LIST_PAGE)
        .set_next_token(token)
        .customize()
        .config_override(bounded(stop_at))
        .send()
        .await
        .map_err(|e| {
            format!(
                "servicediscovery:ListOperations failed: {}",
                DisplayErrorContext(&e)
            )
        })?;
    let found = (out.operations().iter())
        .filter_map(|o| Some((o.id()?.to_string(), o.status()?.clone())))
        .collect();
    Ok((found, out.next_token().map(String::from)))
}

/// One GetOperation. A GetOperation that fails (after the SDK's retries) ends
/// the following of that operation: its outcome is unconfirmed, not waited out
/// until the deadline.
async fn poll(sd: &Client, target: &Target, operation: &str, stop_at: Option<Instant>) -> Poll {
    let answer = sd
        .get_operation()
        .operation_id(operation)
        .customize()
        .config_override(bounded(stop_at))
        .send()
        .await;
    let out = match answer {
        Ok(out) => out,
        Err(e) => {
            return Poll::Done(WriteOutcome::Unconfirmed(format!(
                "{}: operation {operation} could not be followed: servicediscovery:GetOperation failed: {}",
                what(target),
                DisplayErrorContext(&e)
            )))
        }
    };
    let op = out.operation();
    match op.and_then(|o| o.status()) {
        Some(OperationStatus::Success) => Poll::Done(WriteOutcome::Deleted),
        Some(OperationStatus::Fail) => {
            let code = op.and_then(|o| o.error_code()).unwrap_or("FAIL");
            let message = op.and_then(|o| o.error_message()).unwrap_or_default();
            Poll::Done(WriteOutcome::Failed(format!(
                "{}: operation {operation} failed: {code}: {message}",
                what(target)
            )))
        }
        Some(status) => Poll::Pending(status.as_str().to_string()),
        None => Poll::Pending("unknown".to_string()),
    }
}
