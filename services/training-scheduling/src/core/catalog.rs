//! The catalogue: courses, and classes and trainings with the sessions their schedules expand
//! to. A trainer or room booked twice at overlapping times is refused (409), by the session
//! table's exclusion constraints; a clash found beforehand is named in the problem.

use platform::auth::Principal;
use platform::error::Validator;
use platform::{ApiError, Tx};
use uuid::Uuid;

use super::{Scheduling, clash_conflict};
use crate::domain::offering::{self, NewOffering, Schedule};
use crate::store::offerings::{self as store, CourseRow, OfferingInsert, OfferingRow};
use crate::store::sessions::{self, SessionRow};

/// What a class adds to an offering.
#[derive(Debug, Clone, Copy)]
pub struct ClassPart<'a> {
    pub course_id: Uuid,
    pub code: &'a str,
    pub advisor_id: Option<Uuid>,
}

impl Scheduling {
    /// Checks a new course's fields.
    pub fn check_course(&self, code: &str, title: &str, description: &str) -> Result<(), ApiError> {
        let mut v = Validator::new();
        offering::validate_code(&mut v, code, "code");
        v.text(title, "title", 200);
        v.check(
            description.chars().count() <= 4000,
            "description",
            "must be at most 4000 characters",
        );
        v.finish()
    }

    /// Records a checked course in `tx`; a code already used is 409 `code_taken`.
    pub async fn create_course(
        &self,
        tx: &mut Tx,
        caller: &Principal,
        code: &str,
        title: &str,
        description: &str,
    ) -> Result<CourseRow, ApiError> {
        store::insert_course(tx, code, title.trim(), description, caller.subject, self.now())
            .await
            .map_err(|e| {
                platform::error::on_constraint(e, |c| {
                    (c == "course_code_key")
                        .then(|| ApiError::conflict("code_taken", format!("a course with code `{code}` exists")))
                })
            })
    }

    pub async fn course(&self, id: Uuid) -> Result<CourseRow, ApiError> {
        store::course(&self.platform.pool, id)
            .await?
            .ok_or_else(|| ApiError::not_found("course"))
    }

    /// Checks a new class or training as of now, expanding its schedule; nothing is written.
    pub fn check_offering(&self, new: &NewOffering<'_>, class: Option<&ClassPart<'_>>) -> Result<Schedule, ApiError> {
        if let Some(class) = class {
            let mut v = Validator::new();
            offering::validate_code(&mut v, class.code, "code");
            v.finish()?;
        }
        offering::validate(new, self.now(), &self.limits)
    }

    /// Records a checked class or training and its sessions in `tx`.
    pub async fn create_offering(
        &self,
        tx: &mut Tx,
        caller: &Principal,
        new: &NewOffering<'_>,
        schedule: &Schedule,
        class: Option<&ClassPart<'_>>,
    ) -> Result<(OfferingRow, Vec<SessionRow>), ApiError> {
        let ends: Vec<_> = schedule.starts.iter().map(|s| *s + schedule.duration).collect();
        if let Some(clash) = store::first_clash(
            tx,
            new.trainer_id,
            schedule.room.as_deref(),
            &schedule.starts,
            &ends,
            None,
        )
        .await?
        {
            return Err(clash_problem(&clash));
        }
        let insert = OfferingInsert {
            id: Uuid::now_v7(),
            kind: new.kind,
            course_id: class.map(|c| c.course_id),
            code: class.map(|c| c.code),
            title: new.title.trim(),
            description: new.description,
            audience: new.audience,
            mode: new.mode,
            meeting_url: schedule.meeting_url.as_deref(),
            room: schedule.room.as_deref(),
            trainer_id: new.trainer_id,
            advisor_id: class.and_then(|c| c.advisor_id),
            capacity: new.capacity,
            min_attendance: new.min_attendance,
            time_zone: schedule.tz.name(),
            rrule: schedule.rrule.as_deref(),
            starts: &schedule.starts,
            duration: schedule.duration,
            created_by: caller.subject,
            now: self.now(),
        };
        store::insert_offering(tx, &insert).await.map_err(|e| {
            platform::error::on_constraint(e, |c| {
                clash_conflict(c).or_else(|| {
                    (c == "offering_code_key").then(|| {
                        ApiError::conflict(
                            "code_taken",
                            format!("a class with code `{}` exists", insert.code.unwrap_or_default()),
                        )
                    })
                })
            })
        })
    }

    /// A class or training with its sessions; `kinds` are the kinds the route serves.
    pub async fn offering(&self, id: Uuid, kinds: &[&str]) -> Result<(OfferingRow, Vec<SessionRow>), ApiError> {
        let o = store::offering(&self.platform.pool, id)
            .await?
            .filter(|o| kinds.contains(&o.kind.as_str()))
            .ok_or_else(|| {
                ApiError::not_found(if kinds == [offering::CLASS] {
                    "class"
                } else {
                    "training"
                })
            })?;
        let sessions = sessions::of_offering(&self.platform.pool, id).await?;
        Ok((o, sessions))
    }
}

/// The 409 for a clash found before writing, naming the other session.
pub fn clash_problem(clash: &store::Clash) -> ApiError {
    let (code, who) = if clash.same_trainer {
        ("trainer_double_booked", "the trainer already teaches")
    } else {
        ("room_double_booked", "the room is already booked for")
    };
    ApiError::conflict(
        code,
        format!(
            "{who} `{}` ({}) from {} to {} at an overlapping time",
            clash.title,
            clash.session_id,
            clash.starts_at.to_rfc3339(),
            clash.ends_at.to_rfc3339()
        ),
    )
}
