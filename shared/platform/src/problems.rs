//! The problem responses a route declares in its OpenAPI, one type per status, so a handler
//! lists them by name instead of repeating the body and content type:
//!
//! ```text
//! #[utoipa::path(get, path = "/v1/things/{id}",
//!     responses((status = 200, body = ThingResponse), Unauthorized, Forbidden, NotFound))]
//! ```
//!
//! A status that needs its own words for a route is still written out as a tuple with
//! `body = Problem, content_type = "application/problem+json"`. Each body refers to the
//! `Problem` schema, which the kernel adds to every service's document.

use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem+json response with `description`.
pub fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

macro_rules! problem_responses {
    ($($(#[$doc:meta])* $name:ident = $status:literal, $description:literal;)*) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    BTreeMap::from([($status.to_owned(), RefOr::T(problem_response($description)))])
                }
            }
        )*
    };
}

problem_responses! {
    /// `400`: the request cannot be read (a malformed header or body).
    BadRequest = "400", "The request cannot be read";
    /// `401`: no token, or one that does not verify.
    Unauthorized = "401", "No valid token";
    /// `403`: the caller's roles do not allow this.
    Forbidden = "403", "Not allowed for the caller's roles";
    /// `404`: no such record, or not the caller's.
    NotFound = "404", "No such record, or not the caller's";
    /// `409`: the record is not in a state that allows this.
    Conflict = "409", "Not allowed in the record's current state";
    /// `413`: the body is larger than the route takes.
    PayloadTooLarge = "413", "The body is too large";
    /// `415`: the body is not JSON.
    UnsupportedMediaType = "415", "The body must be application/json";
    /// `410`: the record existed and is gone (expired or withdrawn).
    Gone = "410", "No longer available";
    /// `422`: fields that fail validation, each named in `errors`.
    Unprocessable = "422", "Invalid fields";
    /// `429`: too many requests; see `Retry-After`.
    TooManyRequests = "429", "Too many requests; see Retry-After";
    /// `503`: a dependency the route needs is not available; try again.
    ServiceUnavailable = "503", "Not available right now; try again";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_response_is_problem_json_under_its_status() {
        let responses = NotFound::responses();
        let RefOr::T(response) = &responses["404"] else {
            panic!("an inline response");
        };
        assert!(response.content.contains_key(PROBLEM_JSON));
        assert_eq!(Unprocessable::responses().keys().collect::<Vec<_>>(), ["422"]);
    }
}
