//! The simulator's HTTP server: one listener for every region and service. The region of a
//! request comes from its SigV4 credential scope; a region that is down drops the connection
//! without an answer, as an unreachable endpoint does; every response carries the simulated now
//! in its `Date` header.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Request};
use axum::response::Response;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use super::clock::{http_date, system_now_millis, Millis, SimClock};
use super::error::ApiError;
use super::model::World;
use super::persist::{self, PersistError};
use super::settings::SimSettings;
use super::state::{region_from_headers, service_from_headers, SimState};
use super::{cloudwatch, control, efs};

/// `POST /` is shared by the query-style protocols: STS (awsQuery) and CloudWatch (awsJson1.0),
/// told apart by the service of the signature's credential scope, as AWS's endpoints are by
/// their host names.
async fn post_root(
    axum::extract::State(sim): axum::extract::State<Arc<SimState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match service_from_headers(&headers).as_deref() {
        Some("sts") => super::sts::handle(&sim, &headers, &body),
        _ => cloudwatch::aws_json(&sim, &headers, body),
    }
}

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub listen: SocketAddr,
    /// Simulated seconds per real second.
    pub time_scale: f64,
    /// Simulated time at start (default: the real now, or the state file's time).
    pub start_time: Option<Millis>,
    pub state_file: Option<PathBuf>,
    /// Seed of the generated ids (default: from the clock).
    pub seed: Option<u64>,
    pub settings: SimSettings,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            time_scale: 1.0,
            start_time: None,
            state_file: None,
            seed: None,
            settings: SimSettings::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the time scale must be a positive number, not {0}")]
    TimeScale(f64),
    #[error("cannot listen on {addr}: {source}\n  hint: pick another address, or port 0 for any free port")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] PersistError),
}

/// A running simulator.
pub struct Simulator {
    addr: SocketAddr,
    state: Arc<SimState>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Simulator {
    pub async fn start(opts: SimOptions) -> Result<Simulator, StartError> {
        if !(opts.time_scale.is_finite() && opts.time_scale > 0.0) {
            return Err(StartError::TimeScale(opts.time_scale));
        }
        let loaded = match &opts.state_file {
            Some(path) => persist::load(path, opts.time_scale)?,
            None => None,
        };
        let (world, start) = match loaded {
            Some(l) => {
                tracing::info!(files = l.world.file_systems.len(), "simulator state loaded");
                let start = opts.start_time.unwrap_or(l.resume_at).max(l.world.now);
                (l.world, start)
            }
            None => {
                let start = opts.start_time.unwrap_or_else(system_now_millis);
                let seed = opts.seed.unwrap_or(start as u64);
                (World::new(seed, start), start)
            }
        };
        let listener = TcpListener::bind(opts.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: opts.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: opts.listen,
            source,
        })?;
        let state = Arc::new(SimState::new(
            world,
            SimClock::new(start, opts.time_scale),
            opts.settings,
            opts.state_file,
        ));
        state.locked(|_, _| ((), true));
        let router = router(state.clone());
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, router, state.clone(), stopped));
        Ok(Simulator {
            addr,
            state,
            stop,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to give AWS clients: `AWS_ENDPOINT_URL`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> &Arc<SimState> {
        &self.state
    }

    /// Stops accepting connections and saves the state.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.state.locked(|_, _| ((), true));
    }
}

fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .merge(efs::routes())
        .merge(super::backup::routes())
        .merge(cloudwatch::routes())
        .merge(control::routes())
        .route("/", axum::routing::post(post_root))
        .fallback(unknown_operation)
        .layer(axum::middleware::map_response(with_request_id))
        .with_state(state)
}

/// Every answer carries a request id, as AWS's do (`x-amzn-RequestId`): SDKs surface it, and
/// operators quote it in support cases.
async fn with_request_id(mut response: Response) -> Response {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let id = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        pid,
        (n >> 48) & 0xffff,
        (n >> 36) & 0xfff,
        (n >> 24) & 0xfff,
        n & 0xffff_ffff_ffff
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-amzn-requestid", v);
    }
    response
}

async fn unknown_operation(req: Request<axum::body::Body>) -> Response {
    efs::error_response(&ApiError::new(
        404,
        "UnknownOperationException",
        format!(
            "the simulator does not serve {} {}",
            req.method(),
            req.uri().path()
        ),
    ))
}

#[derive(Debug, thiserror::Error)]
#[error("region {0} is down (simulated outage): connection dropped")]
struct RegionDown(String);

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    state: Arc<SimState>,
    mut stopped: watch::Receiver<bool>,
) {
    // Connections live in a set: a stopped simulator closes them all, as a process that exits
    // does, instead of answering kept-alive clients from a world that is no longer saved.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            _ = stopped.changed() => break,
        };
        let router = router.clone();
        let state = state.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let router = router.clone();
            let state = state.clone();
            async move { handle(router, state, req).await }
        });
        connections.spawn(async move {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

async fn handle(
    router: Router,
    state: Arc<SimState>,
    req: Request<Incoming>,
) -> Result<Response, RegionDown> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    if !path.starts_with("/_sim/") {
        if let Some(region) = region_from_headers(req.headers()) {
            if state.holds_request(&region) {
                // A network partition: the connection stays open, no answer ever comes (until
                // the client gives up, or the simulator stops).
                tracing::info!(%method, %path, %region, "held: region is black-holed");
                std::future::pending::<()>().await;
            }
            if state.region_down(&region) {
                tracing::info!(%method, %path, %region, "dropped: region is down");
                return Err(RegionDown(region));
            }
        }
    }
    let response: Result<Response, Infallible> =
        router.oneshot(req.map(axum::body::Body::new)).await;
    let mut response = match response {
        Ok(r) => r,
        Err(never) => match never {},
    };
    // The simulated now, except on an authorization refusal: AWS's SDKs read a refusal whose
    // Date is far from their own clock as clock skew and retry it (AccessDeniedException is one
    // of their clock-skew codes), which real AWS, whose Date is the real time, never causes.
    let now = if response.status() == axum::http::StatusCode::FORBIDDEN {
        system_now_millis()
    } else {
        state.clock.now()
    };
    if let Ok(date) = HeaderValue::from_str(&http_date(now)) {
        response.headers_mut().insert("date", date);
    }
    tracing::debug!(%method, %path, status = response.status().as_u16(), "request");
    Ok(response)
}
