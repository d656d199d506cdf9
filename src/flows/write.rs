//! Writing a plan: its deletions to Route 53 (unless a dry run), the tasks it
//! condemns stopped when asked, and the outcome recorded in the report.

use crate::aws::Aws;
use crate::decide::Plan;
use crate::model::{WriteOutcome, Zone};
use crate::progress::Phase;
use crate::report::Report;

use super::Run;

impl<A: Aws> Run<'_, A> {
    pub(crate) async fn write(&self, zone: &Zone, plan: &Plan, report: &mut Report) {
        let deps = self.deps;
        let sets: Vec<_> = plan.deletions().map(|p| p.item.set.clone()).collect();
        let apply = async {
            if self.dry_run {
                return vec![WriteOutcome::Deleted; sets.len()];
            }
            deps.aws.delete_records(&zone.id, &sets, self.stop_at).await
        };
        let outcomes = self.timed(Phase::Writes, apply).await;
        if outcomes.contains(&WriteOutcome::Skipped) {
            report.incomplete("deadline near: some deletions were not attempted");
        }
        if deps.config.stop_unhealthy_tasks && !self.dry_run {
            let tasks = plan.tasks_to_stop(&outcomes);
            let stop = deps.aws.stop_tasks(&tasks, self.stop_at);
            let (stopped, errors) = self.timed(Phase::Writes, stop).await;
            report.stopped_tasks = stopped;
            report.errors.extend(errors);
        }
        report.record_plan(plan, &outcomes);
    }
}
