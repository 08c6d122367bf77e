//! Ray Serve's REST API on the dashboard, for the RayService controller:
//! read the applications' status, deploy a config.
//!
//! Role: [`ServeApi`] is the controller's view of Serve (what its tests
//! fake); [`DashboardClient`] implements it over the same transports,
//! token and timeouts as the Jobs API. [`ServeApplications`] is the typed
//! view of `GET /api/serve/applications/?api_type=declarative`.
//!
//! Invariants:
//! - Reading is tolerant: unknown fields are ignored (Ray sends controller,
//!   proxy and config details this view does not need), absent or `null`
//!   maps and strings read as empty, and a status Ray adds later is kept
//!   verbatim in `Other` rather than failing the read.
//! - A dashboard whose Serve never started answers 200 with no
//!   application: that is an empty [`ServeApplications`], not an error.
//! - A deploy is Serve's declarative PUT: it converges on the config, so
//!   repeating it is safe and the client repeats it like the other
//!   idempotent calls. Its answer is a 2xx or a [`DashboardError`] with the
//!   status and the start of the body.

use std::{collections::BTreeMap, fmt, future::Future};

use serde::{Deserialize, Deserializer, Serialize};

use super::{DashboardClient, DashboardError, paths::Route, reply, serve_config::ServeConfig};

/// What the RayService controller asks of a dashboard's Serve API.
pub trait ServeApi: Send + Sync {
    /// The applications deployed through the REST API, with their status;
    /// empty when Serve is not running.
    fn applications(
        &self,
    ) -> impl Future<Output = Result<ServeApplications, DashboardError>> + Send;

    /// Deploys `config`: Serve converges on it, replacing the applications
    /// it held.
    fn deploy(
        &self,
        config: &ServeConfig,
    ) -> impl Future<Output = Result<(), DashboardError>> + Send;
}

impl ServeApi for DashboardClient {
    async fn applications(&self) -> Result<ServeApplications, DashboardError> {
        let route = Route::serve_applications();
        self.exchange(&route, None, |reply| reply::success(route.call, reply))
            .await
    }

    async fn deploy(&self, config: &ServeConfig) -> Result<(), DashboardError> {
        let route = Route::serve_deploy();
        let body = config
            .to_json_bytes()
            .map_err(|source| DashboardError::Encode {
                call: route.call,
                source,
            })?;
        self.exchange(&route, Some(&body), |reply| {
            reply::accepted(route.call, reply)
        })
        .await
    }
}

/// Defines a status enum read from Ray's spelling, with a verbatim
/// fallback, so each status word is written once.
macro_rules! ray_status {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident = $ray:literal,)+ }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A status this version does not know, verbatim.
            Other(String),
        }

        impl $name {
            /// Ray's spelling, as KubeRay copies it into the RayService status.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $ray,)+
                    $name::Other(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(ray: &str) -> $name {
                match ray {
                    $($ray => $name::$variant,)+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(ray: String) -> $name {
                $name::from(ray.as_str())
            }
        }

        impl From<$name> for String {
            fn from(status: $name) -> String {
                status.as_str().to_owned()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

ray_status! {
    /// A Serve application's status.
    ApplicationStatus {
        /// `NOT_STARTED`: no deploy has reached it yet.
        NotStarted = "NOT_STARTED",
        /// `DEPLOYING`: building the app or starting its deployments.
        Deploying = "DEPLOYING",
        /// `RUNNING`: every deployment is healthy.
        Running = "RUNNING",
        /// `DEPLOY_FAILED`: the app could not be built (e.g. a bad import
        /// path) or a deployment failed to start.
        DeployFailed = "DEPLOY_FAILED",
        /// `DELETING`: a deploy without it is removing it.
        Deleting = "DELETING",
        /// `UNHEALTHY`: it ran, and a deployment turned unhealthy.
        Unhealthy = "UNHEALTHY",
    }
}

ray_status! {
    /// A Serve deployment's status, within an application.
    DeploymentStatus {
        /// `UPDATING`: replicas are starting or being replaced.
        Updating = "UPDATING",
        /// `HEALTHY`: its target replicas run and pass health checks.
        Healthy = "HEALTHY",
        /// `UNHEALTHY`: replicas fail health checks after starting.
        Unhealthy = "UNHEALTHY",
        /// `DEPLOY_FAILED`: replicas failed to start, repeatedly.
        DeployFailed = "DEPLOY_FAILED",
        /// `UPSCALING`: the autoscaler is adding replicas.
        Upscaling = "UPSCALING",
        /// `DOWNSCALING`: the autoscaler is removing replicas.
        Downscaling = "DOWNSCALING",
    }
}

/// Serve's applications, as the declarative GET returns them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServeApplications {
    /// The applications by name; empty when Serve is not running or holds
    /// none.
    #[serde(default, deserialize_with = "null_as_default")]
    pub applications: BTreeMap<String, ServeApplication>,
    /// The `target_capacity` Serve applies (percent), when one is set.
    #[serde(default)]
    pub target_capacity: Option<f64>,
}

impl ServeApplications {
    /// No application at all (Serve not started, or its state lost).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.applications.is_empty()
    }

    /// Each application's status, by name.
    #[must_use]
    pub fn statuses(&self) -> BTreeMap<&str, &ApplicationStatus> {
        self.applications
            .iter()
            .map(|(name, app)| (name.as_str(), &app.status))
            .collect()
    }
}

/// One Serve application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeApplication {
    /// Its name, as in the config.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Its status; the one field that must be there.
    pub status: ApplicationStatus,
    /// Why it has that status; empty while all is well, a traceback when
    /// the app could not be built.
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    /// The route its ingress serves; `None` until Serve has built the app,
    /// or for an app without an HTTP ingress.
    #[serde(default)]
    pub route_prefix: Option<String>,
    /// The path of its OpenAPI docs, for apps that have them.
    #[serde(default)]
    pub docs_path: Option<String>,
    /// Its deployments by name; empty until Serve has built the app.
    #[serde(default, deserialize_with = "null_as_default")]
    pub deployments: BTreeMap<String, ServeDeployment>,
}

/// One deployment of a Serve application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeDeployment {
    /// Its name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Its status.
    pub status: DeploymentStatus,
    /// Why it has that status; empty while all is well.
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
}

/// Reads `null` as the type's default, as an absent field reads.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use http::header::{ACCEPT, CONTENT_TYPE};
    use serde_json::json;

    use super::*;
    use crate::dashboard::{canned_http::CannedServer, reply::Reply};

    fn recorded(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/dashboard/serve/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap()
    }

    fn fixture(name: &str) -> ServeApplications {
        let ok = Reply {
            status: http::StatusCode::OK,
            body: recorded(name).into_bytes(),
        };
        reply::success("applications", &ok).unwrap()
    }

    #[test]
    fn a_dashboard_without_serve_has_no_applications_and_that_is_an_answer() {
        let apps = fixture("serve_not_started.json");
        assert!(apps.is_empty());
        assert_eq!(apps.target_capacity, None);
        assert_eq!(apps, ServeApplications::default());
    }

    #[test]
    fn a_fresh_deploy_is_deploying_before_its_route_and_deployments_exist() {
        let apps = fixture("deploying_before_deployments.json");
        let app = &apps.applications["versioned"];
        assert_eq!(app.name, "versioned");
        assert_eq!(app.status, ApplicationStatus::Deploying);
        assert_eq!(app.route_prefix, None);
        assert!(app.deployments.is_empty());
        assert_eq!(app.message, "");
    }

    #[test]
    fn a_deploying_app_has_an_updating_deployment() {
        let apps = fixture("deploying.json");
        let app = &apps.applications["versioned"];
        assert_eq!(app.status, ApplicationStatus::Deploying);
        assert_eq!(app.route_prefix.as_deref(), Some("/"));
        assert_eq!(app.docs_path, None);
        let deployment = &app.deployments["Versioned"];
        assert_eq!(deployment.name, "Versioned");
        assert_eq!(deployment.status, DeploymentStatus::Updating);
    }

    #[test]
    fn a_running_app_has_healthy_deployments_and_ignores_rays_other_fields() {
        let apps = fixture("running.json");
        assert_eq!(
            apps.statuses(),
            BTreeMap::from([("versioned", &ApplicationStatus::Running)])
        );
        let app = &apps.applications["versioned"];
        assert_eq!(
            app.deployments["Versioned"].status,
            DeploymentStatus::Healthy
        );
        assert_eq!(apps.target_capacity, None);
    }

    #[test]
    fn failures_carry_rays_message_at_the_level_that_failed() {
        let apps = fixture("deploy_failed.json");
        assert_eq!(
            apps.statuses(),
            BTreeMap::from([
                ("broken", &ApplicationStatus::DeployFailed),
                ("failing", &ApplicationStatus::DeployFailed),
                ("versioned", &ApplicationStatus::Running),
            ])
        );
        assert_eq!(apps.target_capacity, Some(50.0));
        // A bad import path fails the app before it has deployments.
        let broken = &apps.applications["broken"];
        assert!(broken.deployments.is_empty());
        assert!(broken.message.contains("Deploying app 'broken' failed"));
        assert!(broken.message.contains("serve_app_missing"));
        // A constructor that raises fails the deployment.
        let failing = &apps.applications["failing"];
        assert_eq!(failing.route_prefix.as_deref(), Some("/failing"));
        let deployment = &failing.deployments["Versioned"];
        assert_eq!(deployment.status, DeploymentStatus::DeployFailed);
        assert!(deployment.message.contains("failed to start 3 times"));
        assert!(failing.message.contains("Versioned"));
    }

    #[test]
    fn an_app_left_out_of_a_deploy_is_deleting() {
        let apps = fixture("deleting.json");
        assert_eq!(
            apps.applications["failing"].status,
            ApplicationStatus::Deleting
        );
        assert_eq!(
            apps.applications["versioned"].status,
            ApplicationStatus::Deploying
        );
    }

    #[test]
    fn every_status_round_trips_in_rays_spelling_and_unknown_ones_are_kept() {
        for word in [
            "NOT_STARTED",
            "DEPLOYING",
            "RUNNING",
            "DEPLOY_FAILED",
            "DELETING",
            "UNHEALTHY",
        ] {
            let status = ApplicationStatus::from(word);
            assert!(!matches!(status, ApplicationStatus::Other(_)), "{word}");
            assert_eq!(status.as_str(), word);
            assert_eq!(serde_json::to_value(&status).unwrap(), json!(word));
        }
        for word in [
            "UPDATING",
            "HEALTHY",
            "UNHEALTHY",
            "DEPLOY_FAILED",
            "UPSCALING",
            "DOWNSCALING",
        ] {
            let status = DeploymentStatus::from(word);
            assert!(!matches!(status, DeploymentStatus::Other(_)), "{word}");
            assert_eq!(status.to_string(), word);
        }
        let later: ApplicationStatus = serde_json::from_value(json!("PAUSED")).unwrap();
        assert_eq!(later, ApplicationStatus::Other("PAUSED".to_owned()));
        assert_eq!(later.as_str(), "PAUSED");
    }

    #[test]
    fn nulls_read_as_absent_and_a_missing_status_does_not_read() {
        let sparse = json!({
            "applications": {
                "a": {"status": "UNHEALTHY", "message": null, "deployments": null},
            },
            "target_capacity": null,
        });
        let apps: ServeApplications = serde_json::from_value(sparse).unwrap();
        let app = &apps.applications["a"];
        assert_eq!(app.status, ApplicationStatus::Unhealthy);
        assert_eq!((app.name.as_str(), app.message.as_str()), ("", ""));
        assert!(app.deployments.is_empty());
        let null_apps: ServeApplications =
            serde_json::from_value(json!({"applications": null})).unwrap();
        assert!(null_apps.is_empty());
        assert!(
            serde_json::from_value::<ServeApplications>(json!({"applications": {"a": {}}}))
                .is_err()
        );
    }

    fn client() -> DashboardClient {
        let transport = crate::dashboard::Transport::Direct(
            crate::dashboard::DirectTransport::new("demo-head-svc.ml.svc:8265").unwrap(),
        );
        DashboardClient::new(transport, None)
    }

    #[test]
    fn the_serve_calls_aim_at_rays_routes() {
        let read = client()
            .transport()
            .target(&Route::serve_applications().path);
        assert_eq!(
            read,
            "http://demo-head-svc.ml.svc:8265/api/serve/applications/?api_type=declarative"
        );
        let config = ServeConfig::from_yaml("applications: []").unwrap();
        let body = config.to_json_bytes().unwrap();
        let request = client()
            .request(&Route::serve_deploy(), Some(&body))
            .unwrap();
        assert_eq!(request.method(), http::Method::PUT);
        assert_eq!(request.uri(), "/api/serve/applications/");
        assert_eq!(request.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(request.headers()[ACCEPT], "application/json");
        let sent: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
        assert_eq!(sent, json!({"applications": []}));
    }

    #[test]
    fn a_rejected_deploy_is_an_error_with_rays_reason() {
        let rejected = Reply {
            status: http::StatusCode::BAD_REQUEST,
            body: recorded("deploy_rejected.txt").into_bytes(),
        };
        match reply::accepted("deploy", &rejected) {
            Err(DashboardError::Status { call, code, body }) => {
                assert_eq!((call, code), ("deploy", 400));
                assert!(body.contains("applications.0.import_path"), "{body}");
            }
            other => panic!("{other:?}"),
        }
    }

    fn client_at(address: &str) -> DashboardClient {
        let transport = crate::dashboard::Transport::Direct(
            crate::dashboard::DirectTransport::new(address).unwrap(),
        );
        DashboardClient::new(
            transport,
            Some(crate::dashboard::DashboardToken::new("t0k").unwrap()),
        )
    }

    #[tokio::test]
    async fn a_deploy_is_repeated_after_a_5xx_with_the_same_body_and_token() {
        let server = CannedServer::start(vec![(503, "busy".to_owned()), (200, String::new())]);
        let config =
            ServeConfig::from_yaml("applications:\n  - name: a\n    import_path: m:app\n").unwrap();
        client_at(&server.address).deploy(&config).await.unwrap();
        let seen = server.requests();
        assert_eq!(seen.len(), 2);
        for request in &seen {
            assert!(
                request.starts_with("PUT /api/serve/applications/ HTTP/1.1\r\n"),
                "{request}"
            );
            assert!(
                request
                    .to_ascii_lowercase()
                    .contains("x-ray-authorization: bearer t0k")
            );
            assert!(
                request.ends_with(r#"{"applications":[{"import_path":"m:app","name":"a"}]}"#),
                "{request}"
            );
        }
    }

    #[tokio::test]
    async fn a_read_over_http_decodes_the_recorded_answer_and_a_4xx_is_not_repeated() {
        let server = CannedServer::start(vec![
            (200, recorded("running.json")),
            (400, recorded("deploy_rejected.txt")),
        ]);
        let client = client_at(&server.address);
        let apps = client.applications().await.unwrap();
        assert_eq!(
            apps.applications["versioned"].status,
            ApplicationStatus::Running
        );
        let config = ServeConfig::from_yaml("applications: []").unwrap();
        let err = client.deploy(&config).await.unwrap_err();
        assert!(
            matches!(
                err,
                DashboardError::Status {
                    call: "deploy",
                    code: 400,
                    ..
                }
            ),
            "{err}"
        );
        let seen = server.requests();
        assert!(
            seen[0].starts_with("GET /api/serve/applications/?api_type=declarative HTTP/1.1\r\n")
        );
        assert_eq!(seen.len(), 2);
    }

    #[tokio::test]
    async fn an_unreachable_dashboard_is_an_error_naming_the_serve_call() {
        // A port nothing listens on: bind one, then free it.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = free.local_addr().unwrap();
        drop(free);
        let transport = crate::dashboard::Transport::Direct(
            crate::dashboard::DirectTransport::new(&address.to_string()).unwrap(),
        );
        let client = DashboardClient::new(transport, None).with_retries(0);
        let err = client.applications().await.unwrap_err();
        assert_eq!(err.call(), Some("applications"));
        assert!(err.is_transient(), "{err}");
        let config = ServeConfig::from_yaml("applications: []").unwrap();
        let err = client.deploy(&config).await.unwrap_err();
        assert_eq!(err.call(), Some("deploy"));
    }
}
