//! A refund request follows the ticket it was filed from (refund's `refund.request.*` events,
//! see `consumers::RefundRequests`): each step becomes an internal note on the ticket, and when
//! the request ends (rejected, cancelled; later paid or closed) the ticket is resolved if it is
//! still open, by the service itself.
//!
//! Refund's events about a request arrive in any order (several consuming loops, retries). A
//! note says what one step did, so every step gets its note whenever it arrives, once (its
//! `external_id` is `refund:<request id>:<subjectseq>`). What the ticket's status depends on is
//! taken from the newest event only: the last `subjectseq` applied is kept per request
//! (`refund_request.seq`) and an older event changes nothing there; the end resolves the ticket
//! once per request (`refund_request.ended_at`), so a late event cannot resolve a ticket that
//! was reopened since.

use contracts::RawEnvelope;
use contracts::refund::RefundRequestV1;
use platform::Tx;
use uuid::Uuid;

use crate::core::lifecycle::{ANSWER_TIMEOUT_JOB, Lifecycle};
use crate::domain::lifecycle::{Action, Status};
use crate::domain::refund::{self, Step};
use crate::events;
use crate::store::refunds::SavedRefund;
use crate::store::{self, NewMessage};

impl Lifecycle {
    /// Applies `step` of request `r` (from `event`) to the ticket it names. A request without
    /// a ticket, a ticket intake does not know or one of another customer is left alone
    /// (logged): retrying would not change that.
    pub async fn follow_refund(
        &self,
        tx: &mut Tx,
        event: &RawEnvelope,
        step: Step,
        r: &RefundRequestV1,
    ) -> anyhow::Result<()> {
        let Some(ticket_id) = r.ticket_id else {
            return Ok(());
        };
        let Some(ticket) = store::ticket_for_update(tx, ticket_id).await? else {
            tracing::warn!(request_id = %r.request_id, %ticket_id, event_type = %event.event_type,
                "refund request names a ticket intake does not know; ignored");
            return Ok(());
        };
        if ticket.customer_id != r.customer_id {
            tracing::warn!(request_id = %r.request_id, %ticket_id, event_type = %event.event_type,
                "refund request names a ticket of another customer; ignored");
            return Ok(());
        }
        let now = self.clock.now();
        let state = store::refunds::for_update(tx, r.request_id).await?;
        let stale = state.as_ref().is_some_and(|s| event.is_stale(s.seq));
        let ended_before = state.as_ref().and_then(|s| s.ended_at);
        let ends_now = !stale && ended_before.is_none() && refund::ends(&r.status);
        let (open, _) = Action::Resolve.rule();
        let resolves = ends_now && open.contains(&ticket.status);

        let mut body = refund::note(step, r, &ticket.language);
        if resolves {
            body.push('\n');
            body.push_str(if ticket.language == "zh-CN" {
                "退款申请已结束，工单随之解决。"
            } else {
                "The request has ended, so the ticket is resolved."
            });
        }
        let key = match event.subjectseq {
            Some(seq) => format!("refund:{}:{seq}", r.request_id),
            None => format!("refund:{}:{}", r.request_id, event.id),
        };
        let note = NewMessage {
            ticket_id,
            author_id: Uuid::nil(),
            author_role: "system",
            visibility: "internal",
            kind: "note",
            body: &body,
            channel: None,
            external_id: Some(&key),
        };
        if let Some(added) = store::insert_message_once(tx, &note, now).await? {
            self.outbox
                .stage_sequenced(
                    tx,
                    events::message_added(ticket.customer_id, &added.message, false),
                    added.seq,
                )
                .await?;
        }

        if stale {
            tracing::info!(request_id = %r.request_id, %ticket_id, seq = ?event.subjectseq,
                applied = ?state.as_ref().and_then(|s| s.seq), "older refund event: noted, state kept");
            return Ok(());
        }
        store::refunds::save(
            tx,
            &SavedRefund {
                id: r.request_id,
                ticket_id,
                status: &r.status,
                seq: event.subjectseq.or(state.as_ref().and_then(|s| s.seq)),
                ended_at: ended_before.or(ends_now.then_some(now)),
                now,
            },
        )
        .await?;
        if resolves {
            if ticket.status == Status::AutoAnswered {
                // No verdict on the automatic answer is awaited any more.
                self.jobs
                    .cancel(&mut **tx, ANSWER_TIMEOUT_JOB, &ticket.id.to_string())
                    .await?;
            }
            self.apply(tx, &ticket, Action::Resolve, Uuid::nil())
                .await
                .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.detail))?;
            tracing::info!(request_id = %r.request_id, %ticket_id, status = %r.status,
                "refund request ended; its ticket is resolved");
        }
        Ok(())
    }
}
