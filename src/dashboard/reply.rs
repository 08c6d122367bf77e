//! What an answer from the dashboard means for each call.
//!
//! Role: the pure half of the client: status and body in, outcome or
//! [`DashboardError`] out, the same for both transports.
//!
//! Invariants:
//! - 404 on a call about one job is [`Lookup::NotFound`] (Ray: "Job … does
//!   not exist"). The service proxy's own 404 (no such Service) never gets
//!   here: the proxy transport turns the API server's answers into
//!   [`DashboardError::Proxy`] first.
//! - A submit refused with 400 or 500 because the id is taken is
//!   [`SubmitOutcome::AlreadySubmitted`]: Ray answers 400 from its head and
//!   500 when the refusal comes back from the agent, both quoting "Please
//!   use a different submission_id" / "already exists".
//! - A Serve call has no "not found": its answer is a 2xx or an error.
//! - 401 and 403 are [`DashboardError::Unauthorized`]; any other unexpected
//!   status is [`DashboardError::Status`] with the start of the body.

use http::StatusCode;
use serde::de::DeserializeOwned;

use super::{DashboardError, Lookup, SubmitOutcome, error::quote_body, jobs::SubmitResponse};

/// Ray's words when a submission id is taken.
const ID_TAKEN: [&str; 2] = ["Please use a different submission_id", "already exists"];

/// One answer: its status and whole body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: Vec<u8>,
}

/// The outcome of submitting under `requested`.
///
/// # Errors
/// Any answer but a 2xx with a JSON body or an "id taken" refusal.
pub fn submit_outcome(reply: &Reply, requested: &str) -> Result<SubmitOutcome, DashboardError> {
    const CALL: &str = "submit";
    if reply.status.is_success() {
        let answer: SubmitResponse = decode(CALL, &reply.body)?;
        let submission_id = answer
            .submission_id
            .or(answer.job_id)
            .unwrap_or_else(|| requested.to_owned());
        return Ok(SubmitOutcome::Submitted { submission_id });
    }
    let refused = matches!(
        reply.status,
        StatusCode::BAD_REQUEST | StatusCode::INTERNAL_SERVER_ERROR
    );
    let body = String::from_utf8_lossy(&reply.body);
    if refused && ID_TAKEN.iter().any(|words| body.contains(words)) {
        return Ok(SubmitOutcome::AlreadySubmitted {
            submission_id: requested.to_owned(),
        });
    }
    Err(failure(CALL, reply))
}

/// The answer of a call about one job: its JSON, or not found.
///
/// # Errors
/// Any answer but a 2xx with a JSON body of `T`'s shape, or a 404.
pub fn lookup<T: DeserializeOwned>(
    call: &'static str,
    reply: &Reply,
) -> Result<Lookup<T>, DashboardError> {
    if reply.status == StatusCode::NOT_FOUND {
        return Ok(Lookup::NotFound);
    }
    if !reply.status.is_success() {
        return Err(failure(call, reply));
    }
    decode(call, &reply.body).map(Lookup::Found)
}

/// The JSON of a 2xx answer.
///
/// # Errors
/// Any answer but a 2xx with a JSON body of `T`'s shape.
pub fn success<T: DeserializeOwned>(
    call: &'static str,
    reply: &Reply,
) -> Result<T, DashboardError> {
    if !reply.status.is_success() {
        return Err(failure(call, reply));
    }
    decode(call, &reply.body)
}

/// A 2xx answer, whatever its body.
///
/// # Errors
/// Any answer but a 2xx.
pub fn accepted(call: &'static str, reply: &Reply) -> Result<(), DashboardError> {
    if reply.status.is_success() {
        Ok(())
    } else {
        Err(failure(call, reply))
    }
}

fn decode<T: DeserializeOwned>(call: &'static str, body: &[u8]) -> Result<T, DashboardError> {
    serde_json::from_slice(body).map_err(|source| DashboardError::Decode { call, source })
}

/// The error for an answer the call does not expect.
#[must_use]
pub fn failure(call: &'static str, reply: &Reply) -> DashboardError {
    let code = reply.status.as_u16();
    let body = quote_body(&reply.body);
    match reply.status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            DashboardError::Unauthorized { call, code, body }
        }
        _ => DashboardError::Status { call, code, body },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dashboard::{JobInfo, JobStatus, jobs::StopResponse};

    fn reply(code: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(code).unwrap(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_fresh_submit_is_submitted_under_rays_answer() {
        let ok = reply(200, r#"{"job_id": "job-1", "submission_id": "job-1"}"#);
        assert_eq!(
            submit_outcome(&ok, "job-1").unwrap(),
            SubmitOutcome::Submitted {
                submission_id: "job-1".to_owned()
            }
        );
        let old_ray = reply(200, r#"{"job_id": "job-1"}"#);
        assert_eq!(
            submit_outcome(&old_ray, "job-1").unwrap().submission_id(),
            "job-1"
        );
    }

    #[test]
    fn a_taken_id_is_already_submitted_from_the_head_or_the_agent() {
        let head = reply(
            400,
            "Traceback (most recent call last):\n  ...\nValueError: Job with submission_id \
             job-1 already exists. Please use a different submission_id.",
        );
        let agent = reply(
            500,
            "RuntimeError: Request failed with status code 500: Job with submission_id job-1 \
             already exists. Please use a different submission_id.",
        );
        for refusal in [head, agent] {
            assert_eq!(
                submit_outcome(&refusal, "job-1").unwrap(),
                SubmitOutcome::AlreadySubmitted {
                    submission_id: "job-1".to_owned()
                }
            );
        }
    }

    #[test]
    fn other_submit_refusals_are_errors() {
        let bad = reply(400, "TypeError: entrypoint must be a string");
        assert!(matches!(
            submit_outcome(&bad, "job-1"),
            Err(DashboardError::Status {
                call: "submit",
                code: 400,
                ..
            })
        ));
        let busy = reply(
            500,
            "No available agent to submit job, please try again later.",
        );
        assert!(matches!(
            submit_outcome(&busy, "job-1"),
            Err(DashboardError::Status {
                call: "submit",
                code: 500,
                ..
            })
        ));
        // The words, but on a status Ray does not refuse ids with.
        let proxy = reply(503, "already exists");
        assert!(submit_outcome(&proxy, "job-1").is_err());
        let garbled = reply(200, "<html>");
        assert!(matches!(
            submit_outcome(&garbled, "job-1"),
            Err(DashboardError::Decode { call: "submit", .. })
        ));
    }

    #[test]
    fn a_404_is_not_found_not_an_error() {
        let missing = reply(404, "Job job-1 does not exist");
        assert_eq!(
            lookup::<JobInfo>("info", &missing).unwrap(),
            Lookup::NotFound
        );
    }

    #[test]
    fn a_found_job_is_decoded() {
        let found = reply(
            200,
            &json!({"status": "RUNNING", "submission_id": "job-1"}).to_string(),
        );
        let info = lookup::<JobInfo>("info", &found).unwrap().found().unwrap();
        assert_eq!(info.status, JobStatus::Running);
        let stopped = reply(200, r#"{"stopped": true}"#);
        assert_eq!(
            lookup::<StopResponse>("stop", &stopped).unwrap(),
            Lookup::Found(StopResponse { stopped: true })
        );
    }

    #[test]
    fn a_serve_answer_is_a_2xx_or_an_error_even_a_404() {
        assert_eq!(
            success::<StopResponse>("applications", &reply(200, r#"{"stopped": false}"#)).unwrap(),
            StopResponse { stopped: false }
        );
        assert!(matches!(
            success::<StopResponse>("applications", &reply(404, "Not Found")),
            Err(DashboardError::Status {
                call: "applications",
                code: 404,
                ..
            })
        ));
        assert!(accepted("deploy", &reply(200, "")).is_ok());
        assert!(accepted("deploy", &reply(204, "")).is_ok());
        assert!(matches!(
            accepted("deploy", &reply(403, "Forbidden")),
            Err(DashboardError::Unauthorized {
                call: "deploy",
                code: 403,
                ..
            })
        ));
    }

    #[test]
    fn refused_tokens_and_other_statuses_are_errors_naming_the_call() {
        for code in [401, 403] {
            assert!(matches!(
                lookup::<JobInfo>("info", &reply(code, "Unauthorized")),
                Err(DashboardError::Unauthorized { call: "info", .. })
            ));
        }
        let driver_job = reply(400, "Can only stop submission type jobs");
        match lookup::<StopResponse>("stop", &driver_job) {
            Err(DashboardError::Status { call, code, body }) => {
                assert_eq!((call, code), ("stop", 400));
                assert_eq!(body, "Can only stop submission type jobs");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            lookup::<JobInfo>("info", &reply(200, "not json")),
            Err(DashboardError::Decode { call: "info", .. })
        ));
    }
}
