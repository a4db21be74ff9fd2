//! Class membership from the company's systems, and class transfers decided in refund.

use chrono::{DateTime, Utc};
use contracts::refund::ClassTransferredV1;
use contracts::{CustomerId, EventEnvelope};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{T0, advisor, app, class, customer, feeder, id};

fn enrolment(class: &str, student: Uuid, guardians: &[Uuid]) -> Value {
    json!({"class_id": class, "customer_id": student, "guardian_ids": guardians})
}

#[tokio::test]
async fn students_take_the_seats_of_a_class_until_it_is_full() {
    let app = app().await;
    let created = class(&app, "math-101-a", 3).await;
    let class_id = id(&created);
    for n in 0..3 {
        let e = Uuid::new_v4();
        // By code or by id: both name the class.
        let reference = if n == 0 {
            class_id.to_string()
        } else {
            "math-101-a".to_owned()
        };
        let (status, body) = app
            .put_json(
                &format!("/v1/enrolments/{e}"),
                &feeder(),
                &enrolment(&reference, Uuid::new_v4(), &[]),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let late = Uuid::new_v4();
    let (status, problem) = app
        .put_json(
            &format!("/v1/enrolments/{late}"),
            &feeder(),
            &enrolment("math-101-a", Uuid::new_v4(), &[]),
        )
        .await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("class_full")));
    let (status, problem) = app
        .put_json(
            &format!("/v1/enrolments/{late}"),
            &feeder(),
            &enrolment("no-such-class", Uuid::new_v4(), &[]),
        )
        .await;
    assert_eq!(
        (status, testkit::problem_fields(&problem)),
        (422, vec!["class_id".to_owned()])
    );
    let roster = app
        .get_json(&format!("/v1/classes/{class_id}/enrolments"), &advisor())
        .await;
    assert_eq!(
        (roster["seats_taken"].as_i64(), roster["items"].as_array().map(Vec::len)),
        (Some(3), Some(3))
    );
    // Withdrawing frees the seat; the same PUT again is 200.
    let first = roster["items"][0].clone();
    let mut withdrawn = enrolment(
        "math-101-a",
        first["customer_id"].as_str().and_then(|s| s.parse().ok()).expect("c"),
        &[],
    );
    withdrawn["status"] = json!("withdrawn");
    let (status, _) = app
        .put_json(&format!("/v1/enrolments/{}", id(&first)), &feeder(), &withdrawn)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .put_json(
            &format!("/v1/enrolments/{late}"),
            &feeder(),
            &enrolment("math-101-a", Uuid::new_v4(), &[]),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(app.count("SELECT seats_taken::bigint FROM offering").await, 3);
}

#[tokio::test]
async fn a_class_transfer_from_refund_moves_the_student_their_seat_and_sessions_once() {
    let app = app().await;
    let from = class(&app, "math-101-a", 3).await;
    let to = class(&app, "math-101-b", 3).await;
    let (enrolment_id, student, parent) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (status, _) = app
        .put_json(
            &format!("/v1/enrolments/{enrolment_id}"),
            &feeder(),
            &enrolment("math-101-a", student, &[parent]),
        )
        .await;
    assert_eq!(status, 201);
    let at: DateTime<Utc> = T0.parse().expect("T0");
    let event = EventEnvelope::new(
        "refund",
        ClassTransferredV1 {
            enrolment_id,
            from_class_id: "math-101-a".into(),
            to_class_id: "math-101-b".into(),
            customer_id: CustomerId(student),
            request_id: Uuid::new_v4(),
            at,
        },
    );
    app.publish(&event).await;
    app.publish(&event).await; // redelivered: applied once
    let moved = testkit::eventually(30, "the transfer", || async {
        let e = app
            .get_json(&format!("/v1/enrolments/{enrolment_id}"), &customer(parent))
            .await;
        Ok((e["class_id"] == json!(id(&to))).then_some(e))
    })
    .await
    .expect("transferred");
    assert_eq!(moved["transferred_from"], json!(id(&from)));
    assert_eq!(moved["guardian_ids"], json!([parent]));
    testkit::eventually(30, "the duplicate to be skipped", || async {
        Ok((app
            .count("SELECT count(*) FROM processed_event WHERE consumer = 'refund-class-transferred'")
            .await
            == 1)
            .then_some(()))
    })
    .await
    .expect("recorded");
    let seats = |class: Uuid| {
        let app = &app;
        async move {
            app.get_json(&format!("/v1/classes/{class}/enrolments"), &advisor())
                .await["seats_taken"]
                .as_i64()
        }
    };
    assert_eq!((seats(id(&from)).await, seats(id(&to)).await), (Some(0), Some(1)));
    let envelope: Value =
        sqlx::query_scalar("SELECT envelope FROM outbox_event WHERE event_type = 'training.enrolment.transferred'")
            .fetch_one(&app.platform.pool)
            .await
            .expect("event");
    assert_eq!(envelope["data"]["customer_id"], json!(student));
    assert_eq!(envelope["data"]["guardian_ids"], json!([parent]));
    assert_eq!(envelope["data"]["from_class"]["code"], "math-101-a");
    assert_eq!(envelope["data"]["to_class"]["code"], "math-101-b");
    assert_eq!(envelope["data"]["next_session"]["starts_at"], "2030-03-04T10:00:00Z");
    assert_eq!(
        app.count("SELECT count(*) FROM outbox_event WHERE event_type = 'training.enrolment.transferred'")
            .await,
        1
    );
    // The company's systems move the student back by naming the first class: the same event.
    let (status, back) = app
        .put_json(
            &format!("/v1/enrolments/{enrolment_id}"),
            &feeder(),
            &enrolment("math-101-a", student, &[parent]),
        )
        .await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["transferred_from"], json!(id(&to)));
    assert_eq!((seats(id(&from)).await, seats(id(&to)).await), (Some(1), Some(0)));
    assert_eq!(
        app.count("SELECT count(*) FROM outbox_event WHERE event_type = 'training.enrolment.transferred'")
            .await,
        2
    );
    let (status, _) = app
        .put_json(
            &format!("/v1/enrolments/{enrolment_id}"),
            &feeder(),
            &enrolment("math-101-b", student, &[parent]),
        )
        .await;
    assert_eq!(status, 200);
    // The student's calendar now shows the new class's sessions.
    let (status, feed) = app
        .post_json(
            "/v1/calendar-feeds",
            &customer(student),
            &json!({"view": "participant"}),
        )
        .await;
    assert_eq!(status, 201, "{feed}");
    let text = app
        .client
        .get(format!(
            "{}/v1/calendars/{}",
            app.url,
            feed["token"].as_str().unwrap_or_default()
        ))
        .send()
        .await
        .expect("feed")
        .text()
        .await
        .expect("text");
    assert!(text.contains(&format!("UID:{}@edu-support", id(&to))), "{text}");
    assert!(!text.contains(&format!("UID:{}@edu-support", id(&from))), "{text}");
}
