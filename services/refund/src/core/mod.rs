//! Refund's use cases: enrolments, policies and quotes, filing, the workflow and its audit
//! trail, reports. Time comes from the service's clock (`Platform.clock`) only.

pub mod enrolments;
pub mod filing;
pub mod policies;
pub mod reports;
pub mod workflow;

use chrono::{DateTime, SubsecRound, Utc};
use platform::Platform;
use platform::auth::{Principal, Role};

use crate::domain::enrolment::EnrolmentLimits;
use crate::domain::workflow::ApprovalLimits;
use crate::settings::RefundSettings;

/// What every use case needs. Cheap to clone.
#[derive(Clone)]
pub struct Refunds {
    pub platform: Platform,
    pub approval: ApprovalLimits,
    pub enrolment_limits: EnrolmentLimits,
}

impl Refunds {
    pub fn new(platform: Platform, settings: &RefundSettings) -> Self {
        Self {
            platform,
            approval: settings.approval_limits(),
            enrolment_limits: settings.enrolment_limits(),
        }
    }

    /// Now by the service's clock, to the microsecond (as stored).
    pub fn now(&self) -> DateTime<Utc> {
        self.platform.clock.now().trunc_subsecs(6)
    }
}

/// A customer acting for themselves (not also desk or a service): sees and files only their own.
pub fn is_customer_only(caller: &Principal) -> bool {
    caller.has(Role::Customer) && !caller.is_desk_or_service()
}

/// The caller's roles as the audit trail records them.
pub fn role_names(caller: &Principal) -> Vec<&'static str> {
    caller.roles.iter().map(|r| r.name()).collect()
}
