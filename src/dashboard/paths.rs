//! The paths and methods of the dashboard calls (Jobs API, Serve API) and
//! of the Serve proxy's health check, the same through either transport.
//!
//! Invariants: a Jobs API path starts with `/api/jobs/`, a Serve API path
//! with `/api/serve/applications/`; the job id is one path segment,
//! percent-encoded beyond the URL-safe characters, so no id can reach
//! another route (the client refuses an empty id); collection paths keep
//! their trailing slash, which Ray's routes require.

use http::Method;

/// One Jobs API call: its name (used in errors), method and path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// `submit`, `info`, `stop`, `delete`, `logs`, `applications`,
    /// `deploy` or `healthz`.
    pub call: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// The path (and query), from the transport's base.
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

    /// `GET /api/serve/applications/?api_type=declarative`: the
    /// applications deployed through the REST API and their status.
    #[must_use]
    pub fn serve_applications() -> Route {
        Route {
            call: "applications",
            method: Method::GET,
            path: format!("{SERVE_APPLICATIONS}?api_type=declarative"),
            idempotent: true,
        }
    }

    /// `PUT /api/serve/applications/`: Serve's declarative deploy, which
    /// converges on the config it is given, so sending it twice is sending
    /// it once.
    #[must_use]
    pub fn serve_deploy() -> Route {
        Route {
            call: "deploy",
            method: Method::PUT,
            path: SERVE_APPLICATIONS.to_owned(),
            idempotent: true,
        }
    }

    /// `GET /-/healthz` on a Serve proxy (its HTTP port, not the
    /// dashboard's).
    #[must_use]
    pub fn serve_healthz() -> Route {
        Route {
            call: "healthz",
            method: Method::GET,
            path: "/-/healthz".to_owned(),
            idempotent: true,
        }
    }
}

/// The Serve API's collection path; Ray's route wants the trailing slash.
const SERVE_APPLICATIONS: &str = "/api/serve/applications/";

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
            (
                Route::serve_applications(),
                "applications",
                Method::GET,
                "/api/serve/applications/?api_type=declarative",
                true,
            ),
            (
                Route::serve_deploy(),
                "deploy",
                Method::PUT,
                "/api/serve/applications/",
                true,
            ),
            (
                Route::serve_healthz(),
                "healthz",
                Method::GET,
                "/-/healthz",
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
