//! The Jobs API's paths and methods, the same through either transport.
//!
//! Invariants: a path starts with `/api/jobs/`; the job id is one path
//! segment, percent-encoded beyond the URL-safe characters, so no id can
//! reach another route (the client refuses an empty id); the collection path keeps its trailing slash,
//! which Ray's route requires.

use http::Method;

/// One Jobs API call: its name (used in errors), method and path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// `submit`, `info`, `stop`, `delete` or `logs`.
    pub call: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// The path, from `/api/jobs/`.
    pub path: String,
    /// Repeating the call changes nothing more than making it once.
    pub idempotent: bool,
}

impl Route {
    /// `POST /api/jobs/`.
    #[must_use]
    pub fn submit() -> Route {
        Route {
            call: "submit",
            method: Method::POST,
            path: "/api/jobs/".to_owned(),
            idempotent: false,
        }
    }

    /// `GET /api/jobs/<id>`.
    #[must_use]
    pub fn info(id: &str) -> Route {
        Route {
            call: "info",
            method: Method::GET,
            path: job_path(id),
            idempotent: true,
        }
    }

    /// `POST /api/jobs/<id>/stop`; stopping twice is stopping once.
    #[must_use]
    pub fn stop(id: &str) -> Route {
        Route {
            call: "stop",
            method: Method::POST,
            path: format!("{}/stop", job_path(id)),
            idempotent: true,
        }
    }

    /// `DELETE /api/jobs/<id>`.
    #[must_use]
    pub fn delete(id: &str) -> Route {
        Route {
            call: "delete",
            method: Method::DELETE,
            path: job_path(id),
            idempotent: true,
        }
    }

    /// `GET /api/jobs/<id>/logs`.
    #[must_use]
    pub fn logs(id: &str) -> Route {
        Route {
            call: "logs",
            method: Method::GET,
            path: format!("{}/logs", job_path(id)),
            idempotent: true,
        }
    }
}

fn job_path(id: &str) -> String {
    format!("/api/jobs/{}", encode_segment(id))
}

/// `segment` with every byte but `A-Z a-z 0-9 - . _ ~` percent-encoded,
/// and the dots too when the segment is `.` or `..`, which a URL resolves.
#[must_use]
pub fn encode_segment(segment: &str) -> String {
    let dots_only = segment == "." || segment == "..";
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        let plain = byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'~')
            || (byte == b'.' && !dots_only);
        if plain {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_call_has_rays_method_and_path() {
        let cases = [
            (Route::submit(), "submit", Method::POST, "/api/jobs/", false),
            (
                Route::info("job-1"),
                "info",
                Method::GET,
                "/api/jobs/job-1",
                true,
            ),
            (
                Route::stop("job-1"),
                "stop",
                Method::POST,
                "/api/jobs/job-1/stop",
                true,
            ),
            (
                Route::delete("job-1"),
                "delete",
                Method::DELETE,
                "/api/jobs/job-1",
                true,
            ),
            (
                Route::logs("job-1"),
                "logs",
                Method::GET,
                "/api/jobs/job-1/logs",
                true,
            ),
        ];
        for (route, call, method, path, idempotent) in cases {
            assert_eq!(route.call, call);
            assert_eq!(route.method, method, "{call}");
            assert_eq!(route.path, path, "{call}");
            assert_eq!(route.idempotent, idempotent, "{call}");
        }
    }

    #[test]
    fn an_id_stays_one_segment() {
        assert_eq!(Route::info("../version").path, "/api/jobs/..%2Fversion");
        assert_eq!(Route::info("a b?c#d").path, "/api/jobs/a%20b%3Fc%23d");
        assert_eq!(encode_segment("raysubmit_Ab12.~-"), "raysubmit_Ab12.~-");
        assert_eq!(encode_segment("é"), "%C3%A9");
        assert_eq!(Route::stop("..").path, "/api/jobs/%2E%2E/stop");
    }
}
