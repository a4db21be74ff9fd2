//! Moving and cancelling one session: reason and actor logged, revision bumped, attendees told,
//! conflicts refused.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{app, customer, events, first_session, id, supervisor, trainer_token, training};

#[tokio::test]
async fn a_moved_session_is_logged_bumped_and_announced_to_its_attendees() {
    let app = app().await;
    let session = first_session(&training(&app, 10, 20).await);
    let (student, parent) = (Uuid::new_v4(), Uuid::new_v4());
    let (status, _) = app
        .post_json(
            &format!("/v1/sessions/{session}/registrations"),
            &customer(parent),
            &json!({"participant_id": student, "guardian_ids": [parent]}),
        )
        .await;
    assert_eq!(status, 201);
    let actor = Uuid::new_v4();
    let (status, moved) = app
        .post_json(
            &format!("/v1/sessions/{session}/reschedule"),
            &testkit::token(actor, platform::auth::Role::Supervisor),
            &json!({"starts_at": "2030-01-27T20:00:00+08:00", "ends_at": "2030-01-27T21:30:00+08:00", "reason": "讲师出差"}),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["starts_at"], "2030-01-27T12:00:00Z");
    assert_eq!(moved["sequence"], 1);
    assert_ne!(moved["original_starts_at"], moved["starts_at"]);
    let changes = app
        .get_json(&format!("/v1/sessions/{session}/changes"), &supervisor())
        .await;
    assert_eq!(changes["items"][0]["action"], "rescheduled");
    assert_eq!(changes["items"][0]["reason"], "讲师出差");
    assert_eq!(changes["items"][0]["actor_id"], json!(actor));
    let envelope: Value =
        sqlx::query_scalar("SELECT envelope FROM outbox_event WHERE event_type = 'training.session.rescheduled'")
            .fetch_one(&app.platform.pool)
            .await
            .expect("event");
    assert_eq!(envelope["data"]["attendees"][0]["participant_id"], json!(student));
    assert_eq!(envelope["data"]["attendees"][0]["guardian_ids"], json!([parent]));
    assert_eq!(envelope["data"]["previous_starts_at"], "2030-01-26T00:00:00Z");
    // Cancelled: once, then 409; moving a cancelled session is 409.
    let cancel = format!("/v1/sessions/{session}/cancel");
    let (status, cancelled) = app
        .post_json(&cancel, &supervisor(), &json!({"reason": "场地维修"}))
        .await;
    assert_eq!(
        (status, cancelled["status"].as_str(), cancelled["sequence"].as_i64()),
        (200, Some("cancelled"), Some(2))
    );
    let (status, problem) = app.post_json(&cancel, &supervisor(), &json!({"reason": "again"})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("session_cancelled")));
    assert_eq!(events(&app, "training.session.cancelled").await, 1);
    let (status, problem) = app.post_json(&cancel, &supervisor(), &json!({"reason": " "})).await;
    assert_eq!(
        (status, testkit::problem_fields(&problem)),
        (422, vec!["reason".to_owned()])
    );
}

#[tokio::test]
async fn a_move_onto_a_busy_trainer_or_into_the_past_is_refused_and_trainers_move_only_their_own() {
    let app = app().await;
    let trainer = Uuid::new_v4();
    let mut sessions = Vec::new();
    for (day, room) in [(3, "Room A"), (4, "Room B")] {
        let (status, created) = app
            .post_json(
                "/v1/trainings",
                &supervisor(),
                &json!({
                    "kind": "customer_training", "title": "教师端培训", "audience": ["teachers"], "mode": "on_site",
                    "room": room, "trainer_id": trainer, "capacity": 10, "time_zone": "Europe/Berlin",
                    "starts_at": format!("2030-02-0{day}T10:00:00+01:00"), "ends_at": format!("2030-02-0{day}T12:00:00+01:00")
                }),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        sessions.push(first_session(&created));
    }
    let own = trainer_token(trainer);
    let path = format!("/v1/sessions/{}/reschedule", sessions[1]);
    let (status, problem) = app
        .post_json(
            &path,
            &own,
            &json!({"starts_at": "2030-02-03T11:00:00+01:00", "ends_at": "2030-02-03T12:00:00+01:00", "reason": "r"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("trainer_double_booked")),
        "{problem}"
    );
    let (status, problem) = app
        .post_json(
            &path,
            &own,
            &json!({"starts_at": "2029-02-03T11:00:00+01:00", "ends_at": "2029-02-03T12:00:00+01:00", "reason": "r"}),
        )
        .await;
    assert_eq!(
        (status, testkit::problem_fields(&problem)),
        (422, vec!["starts_at".to_owned()])
    );
    let someone_else = trainer_token(Uuid::new_v4());
    let fine = json!({"starts_at": "2030-02-05T10:00:00+01:00", "ends_at": "2030-02-05T12:00:00+01:00", "reason": "r"});
    assert_eq!(app.post_json(&path, &someone_else, &fine).await.0, 404);
    let (status, moved) = app.post_json(&path, &own, &fine).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(id(&moved), sessions[1]);
    assert_eq!(app.count("SELECT count(*) FROM session_change").await, 1);
}
