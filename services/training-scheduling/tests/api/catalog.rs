//! Courses, classes and trainings: schedules expanded from recurrence rules, bad input refused
//! with nothing written, and double bookings refused by the database.

use serde_json::json;
use uuid::Uuid;

use super::{advisor, app, class, class_body, course, customer, id, supervisor};

#[tokio::test]
async fn a_weekly_class_expands_to_its_fourteen_sessions_in_local_time() {
    let app = app().await;
    let created = class(&app, "math-101-a", 14).await;
    let sessions = created["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 14);
    assert_eq!(created["recurrence"], "FREQ=WEEKLY;COUNT=14;BYDAY=MO");
    assert_eq!(sessions[0]["starts_at"], "2030-03-04T10:00:00Z");
    assert_eq!(sessions[0]["local_starts_at"], "2030-03-04T18:00:00+08:00");
    assert_eq!(sessions[13]["starts_at"], "2030-06-03T10:00:00Z");
    assert_eq!(sessions[13]["occurrence"], 14);
    let class_id = id(&created);
    let read = app
        .get_json(&format!("/v1/classes/{class_id}"), &customer(Uuid::new_v4()))
        .await;
    assert_eq!(read["code"], "math-101-a");
    assert_eq!(read["sessions"].as_array().map(Vec::len), Some(14));
    let listed = app
        .get_json(&format!("/v1/sessions?offering_id={class_id}&limit=100"), &supervisor())
        .await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(14));
}

#[tokio::test]
async fn bad_schedules_are_refused_field_by_field_and_nothing_is_written() {
    let app = app().await;
    let course = course(&app).await;
    let path = format!("/v1/courses/{course}/classes");
    let base = class_body("math-101-b", Uuid::new_v4(), "Room 1", 14);
    let cases = [
        ("starts_at", json!({"starts_at": "2030-03-04T18:00:00"})),
        ("ends_at", json!({"ends_at": "2030-03-04T17:00:00+08:00"})),
        (
            "starts_at",
            json!({"starts_at": "2029-03-04T18:00:00+08:00", "ends_at": "2029-03-04T19:00:00+08:00", "recurrence": null}),
        ),
        ("recurrence", json!({"recurrence": "FREQ=WEEKLY;BYDAY=MO"})),
        ("recurrence", json!({"recurrence": "FREQ=DAILY;COUNT=500"})),
        ("recurrence", json!({"recurrence": "FREQ=WEEKLY;BYDAY=TU;COUNT=3"})),
        ("recurrence", json!({"recurrence": "FREQ=FORTNIGHTLY;COUNT=3"})),
        ("time_zone", json!({"time_zone": "Mars/Olympus"})),
        ("room", json!({"room": null})),
        ("code", json!({"code": "no spaces please"})),
    ];
    for (field, patch) in cases {
        let mut body = base.clone();
        for (k, v) in patch.as_object().expect("patch") {
            body[k] = v.clone();
        }
        let (status, problem) = app.post_json(&path, &advisor(), &body).await;
        assert_eq!(status, 422, "{patch}: {problem}");
        assert!(
            testkit::problem_fields(&problem).contains(&field.to_owned()),
            "{patch}: {problem}"
        );
        assert_eq!(problem["code"], "validation_failed");
    }
    assert_eq!(app.count("SELECT count(*) FROM offering").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM session").await, 0);
    let (status, _) = app
        .post_json(&format!("/v1/courses/{}/classes", Uuid::new_v4()), &advisor(), &base)
        .await;
    assert_eq!(status, 404, "an unknown course");
}

#[tokio::test]
async fn a_trainer_or_room_booked_twice_is_refused_and_the_database_enforces_it() {
    let app = app().await;
    let course = course(&app).await;
    let path = format!("/v1/courses/{course}/classes");
    let trainer = Uuid::new_v4();
    let (status, _) = app
        .post_json(&path, &advisor(), &class_body("math-a", trainer, "Room 1", 14))
        .await;
    assert_eq!(status, 201);
    // The same trainer, another room, the tenth Monday overlapping by half an hour.
    let mut clash = class_body("math-b", trainer, "Room 2", 1);
    clash["starts_at"] = json!("2030-05-06T19:00:00+08:00");
    clash["ends_at"] = json!("2030-05-06T20:00:00+08:00");
    clash["recurrence"] = json!(null);
    let (status, problem) = app.post_json(&path, &advisor(), &clash).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "trainer_double_booked");
    // Another trainer in the same room.
    let mut room = clash.clone();
    room["trainer_id"] = json!(Uuid::new_v4());
    room["room"] = json!("Room 1");
    let (status, problem) = app.post_json(&path, &advisor(), &room).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "room_double_booked");
    // Back to back is fine.
    let mut after = class_body("math-c", trainer, "Room 1", 1);
    after["starts_at"] = json!("2030-05-06T19:30:00+08:00");
    after["ends_at"] = json!("2030-05-06T20:30:00+08:00");
    after["recurrence"] = json!(null);
    assert_eq!(app.post_json(&path, &advisor(), &after).await.0, 201);
    assert_eq!(app.count("SELECT count(*) FROM session").await, 15);
    // Postgres itself refuses an overlapping row, whatever the code does.
    let refused = sqlx::query(
        "INSERT INTO session (id, offering_id, occurrence, kind, title, mode, starts_at, ends_at, original_starts_at, \
            time_zone, capacity, trainer_id, created_by, created_at, updated_at) \
         SELECT $1, offering_id, 99, kind, title, mode, starts_at + interval '10 minutes', ends_at, starts_at, \
            time_zone, capacity, trainer_id, created_by, created_at, updated_at FROM session LIMIT 1",
    )
    .bind(Uuid::new_v4())
    .execute(&app.platform.pool)
    .await
    .expect_err("an overlapping session");
    let constraint = match &refused {
        sqlx::Error::Database(db) => db.constraint().map(str::to_owned),
        _ => None,
    };
    assert!(
        matches!(
            constraint.as_deref(),
            Some("session_trainer_overlap" | "session_room_overlap")
        ),
        "{refused}"
    );
}

#[tokio::test]
async fn two_classes_racing_for_one_trainer_give_one_class() {
    let app = app().await;
    let course = course(&app).await;
    let path = format!("/v1/courses/{course}/classes");
    let trainer = Uuid::new_v4();
    let calls = (0..6).map(|i| {
        let body = class_body(&format!("race-{i}"), trainer, &format!("Room {i}"), 14);
        let app = &app;
        let path = &path;
        async move { app.post_json(path, &advisor(), &body).await.0 }
    });
    let statuses = futures_util::future::join_all(calls).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    assert_eq!(app.count("SELECT count(*) FROM session").await, 14);
}

#[tokio::test]
async fn trainings_are_for_customers_or_staff_and_customers_see_only_theirs() {
    let app = app().await;
    let staff_only = json!({
        "kind": "staff_training", "title": "新员工系统培训", "audience": ["staff"], "mode": "on_site",
        "room": "Training room", "capacity": 20, "time_zone": "Asia/Shanghai",
        "starts_at": "2030-02-01T09:00:00+08:00", "ends_at": "2030-02-01T12:00:00+08:00",
        "recurrence": "FREQ=DAILY;COUNT=3"
    });
    let (status, created) = app.post_json("/v1/trainings", &supervisor(), &staff_only).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["sessions"].as_array().map(Vec::len), Some(3));
    let customer = customer(Uuid::new_v4());
    let staff_id = id(&created);
    assert_eq!(
        app.get_status(&format!("/v1/trainings/{staff_id}"), &customer).await.0,
        404
    );
    let listed = app.get_json("/v1/trainings", &customer).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(0));
    let sessions = app.get_json("/v1/sessions", &customer).await;
    assert_eq!(sessions["items"].as_array().map(Vec::len), Some(0));
    let (status, problem) = app
        .post_json(
            "/v1/trainings",
            &supervisor(),
            &json!({"kind": "webinar", "title": "x", "mode": "online", "capacity": 1, "time_zone": "UTC",
                    "starts_at": "2030-02-01T09:00:00Z", "ends_at": "2030-02-01T10:00:00Z"}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(testkit::problem_fields(&problem), ["kind"]);
    // A course code is the company's key: one course per code.
    let (status, _) = app
        .post_json("/v1/courses", &advisor(), &json!({"code": "dup-1", "title": "A"}))
        .await;
    assert_eq!(status, 201);
    let (status, problem) = app
        .post_json("/v1/courses", &advisor(), &json!({"code": "dup-1", "title": "B"}))
        .await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("code_taken")));
}
