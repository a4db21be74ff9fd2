//! RFC 9457 problem details: the one error type every handler returns.
//!
//! Each error has a stable machine `code` (snake_case) that clients branch on, a `title`, a
//! human `detail` and, for validation failures, per-field messages. Internal causes (database,
//! broker, cache) are logged with their chain and never sent to the client.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field's validation failure.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// Dotted path of the field in the request (`fault.device`), or the header/query name.
    pub field: String,
    /// Human-readable message.
    pub message: String,
}

/// The problem+json body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// URI reference naming the problem type (`urn:edu-support:problem:<code>`).
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code.
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The trace this request belongs to, for support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// An error a handler returns; rendered as problem+json.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after_secs: Option<u64>,
    internal: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_secs: None,
            internal: None,
        }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        Self {
            errors,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Validation failed",
                detail,
            )
        }
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "Bad request", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "Conflict", detail)
    }

    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, "Unprocessable request", detail)
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
                format!("retry after {retry_after_secs} seconds"),
            )
        }
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        )
    }

    /// A failure the client cannot fix; the cause is logged, not returned.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            internal: Some(cause.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the request could not be completed; it has been logged",
            )
        }
    }

    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:edu-support:problem:{}", self.code),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            errors: self.errors.clone(),
            trace_id: crate::telemetry::current_trace_id(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.internal {
            tracing::error!(error = ?cause, "request failed");
        }
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Some(secs) = self.retry_after_secs {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        res.json(self.problem())
    }
}

impl From<sqlx::Error> for ApiError {
    /// The database being away (no connection to be had, a broken one, a statement cut off by
    /// the statement timeout) is 503, worth retrying; anything else is a fault of ours.
    fn from(e: sqlx::Error) -> Self {
        let away = match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
            // 57014 query_canceled (statement timeout), 57P01-03 shutdown, 53300 too many connections.
            sqlx::Error::Database(d) => d
                .code()
                .is_some_and(|c| matches!(c.as_ref(), "57014" | "57P01" | "57P02" | "57P03" | "53300")),
            _ => false,
        };
        // 22021 character_not_in_repertoire, 22P05 untranslatable_character: text with a NUL
        // character (`\u0000`), which Postgres does not store.
        let nul =
            matches!(&e, sqlx::Error::Database(d) if d.code().is_some_and(|c| matches!(c.as_ref(), "22021" | "22P05")));
        if away {
            tracing::warn!(error = %e, "database unavailable");
            Self::unavailable("the database is not available right now; try again")
        } else if nul {
            Self::unprocessable("invalid_text", "text must not contain NUL (\\u0000) characters")
        } else {
            Self::internal(e)
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(e)
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(e: redis::RedisError) -> Self {
        Self::internal(e)
    }
}

/// Collects field errors, then fails with all of them at once.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) -> &mut Self {
        if !ok {
            self.errors.push(FieldError {
                field: field.to_owned(),
                message: message.into(),
            });
        }
        self
    }

    /// Text that is present, not blank, and at most `max` characters.
    pub fn text(&mut self, value: &str, field: &str, max: usize) -> &mut Self {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            self.check(false, field, "must not be blank")
        } else {
            let len = trimmed.chars().count();
            self.check(
                len <= max,
                field,
                format!("must be at most {max} characters, got {len}"),
            )
        }
    }

    /// A value from a fixed vocabulary; the message lists the allowed ones.
    pub fn one_of(&mut self, value: &str, allowed: &[&str], field: &str) -> &mut Self {
        self.check(
            allowed.contains(&value),
            field,
            format!("`{value}` is not one of {}", allowed.join(", ")),
        )
    }

    /// An IANA time zone name (`Asia/Shanghai`).
    pub fn time_zone(&mut self, value: &str, field: &str) -> &mut Self {
        self.check(
            value.parse::<chrono_tz::Tz>().is_ok(),
            field,
            "must be an IANA time zone such as Asia/Shanghai",
        )
    }

    /// Something shaped like an email address (`local@domain.tld`); delivery proves the rest.
    pub fn email(&mut self, value: &str, field: &str) -> &mut Self {
        self.check(
            value
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.')),
            field,
            "is not an email address",
        )
    }

    pub fn finish(&mut self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(std::mem::take(&mut self.errors)))
        }
    }
}

/// Maps a violated named constraint to a clean client error; anything else is internal.
pub fn on_constraint(e: sqlx::Error, map: impl FnOnce(&str) -> Option<ApiError>) -> ApiError {
    if let sqlx::Error::Database(db) = &e
        && let Some(name) = db.constraint()
        && let Some(api) = map(name)
    {
        return api;
    }
    ApiError::internal(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[test]
    fn validation_lists_every_field() {
        let err = Validator::new()
            .text("", "subject", 200)
            .text(&"x".repeat(300), "body", 100)
            .check(true, "channel", "never")
            .finish()
            .expect_err("invalid");
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.errors.len(), 2);
        assert_eq!(err.errors[0].field, "subject");
        assert!(err.errors[1].message.contains("at most 100"));
    }

    #[test]
    fn renders_problem_json_without_internal_detail() {
        let err = ApiError::internal(anyhow::anyhow!("password=hunter2 connection refused"));
        let res = err.error_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
            Some(PROBLEM_JSON)
        );
        let body = res.into_body().try_into_bytes().expect("bytes");
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("hunter2"));
        assert!(text.contains("\"code\":\"internal\""));
    }

    #[test]
    fn rate_limit_sets_retry_after() {
        let res = ApiError::too_many_requests(7).error_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            res.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()),
            Some("7")
        );
    }
}
