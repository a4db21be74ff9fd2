//! The jobs behind service-level clocks: the 80% warning and the breach, each decoded and
//! handed to the router.

use futures_util::future::BoxFuture;
use platform::Tx;
use platform::jobs::{Job, JobHandler};

use crate::core::router::Router;
use crate::core::sla::TimerJob;
use crate::store::sla::Mark;

/// A clock's job: at 80% of its time the warning (the ticket moves ahead in its queue); at the
/// target the breach (escalated, up a tier when the policy says so, and the supervisor told).
pub struct SlaClock {
    pub router: Router,
    /// What the job marks: [`Mark::Warned`] or [`Mark::Breached`].
    pub fires: Mark,
}

impl JobHandler for SlaClock {
    fn run<'a>(&'a self, tx: &'a mut Tx, job: &'a Job) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let p: TimerJob = serde_json::from_value(job.payload.clone())?;
            match self.fires {
                Mark::Warned => self.router.sla_warning(tx, &p).await,
                Mark::Breached => self.router.sla_breach(tx, &p).await,
            }
        })
    }
}
