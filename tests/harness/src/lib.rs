//! rayop-testenv: a real local Kubernetes control plane for rayop's tests.
//!
//! It runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
//! kwok (which plays the kubelets of a few large fake Nodes) on loopback
//! ports, from binaries built by `deploy/local/build.sh` from pinned Go
//! modules. Pods of StatefulSets and Deployments really get scheduled, get
//! IPs and become Ready; owner references really garbage-collect; PVCs really
//! bind to PVs.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let env = rayop_testenv::TestEnv::shared().await?; // one plane per test binary
//! let ns = env.namespace("my-test").await?;            // a namespace per test
//! let client = env.client();                           // admin kube::Client
//! # let _ = (ns, client); Ok(()) }
//! ```
//!
//! Modules, each small and single-purpose:
//! - [`binaries`]: runs `deploy/local/build.sh`, knows where the binaries are;
//! - [`certs`]: the CA, serving, admin and service-account keys;
//! - [`kubeconfig`]: the admin kubeconfig and clients built from it;
//! - [`components`]: each component's flags and readiness probe;
//! - [`process`]: child processes that die with the test process;
//! - [`plane`]: start-up order, restarts, teardown of one plane;
//! - [`batch_schedulers`]: an opt-in second kube-scheduler answering to the
//!   batch schedulers' names ([`TestEnv::start_batch_schedulers`]);
//! - [`nodes`]: the fake Nodes;
//! - [`process_node`]: an opt-in node whose pods run as real processes, with
//!   real Ray ([`TestEnv::start_process_node`]);
//! - [`env`](mod@env): the per-binary shared plane and the per-test [`TestEnv`];
//! - [`scripts`]: the `deploy/local/` scripts that print one path;
//! - [`ports`], [`tempdir`], [`yaml`]: free loopback ports, per-process
//!   working directories, multi-document manifests.
//!
//! Binaries: `rayop-local` (the launcher behind `deploy/local/up.sh` and
//! `down.sh`) and `testenv-orphan-probe` (used by the no-orphans test).
//!
//! Invariant kept throughout: no component outlives the process that started
//! it for tests (see [`process`]), and no helper sleeps to synchronise —
//! waits poll a condition against a deadline.

pub mod batch_schedulers;
pub mod binaries;
pub mod certs;
pub mod components;
pub mod env;
pub mod kubeconfig;
pub mod nodes;
pub mod plane;
pub mod ports;
pub mod process;
pub mod process_node;
pub mod scripts;
pub mod tempdir;
pub mod third_party;
pub mod yaml;

pub use binaries::Binaries;
pub use components::Component;
pub use env::{TestEnv, wait_until};
pub use plane::ControlPlane;
pub use process::Lifetime;
pub use scripts::local_script_path;
pub use third_party::third_party_crds;
