//! What every request shares: the world behind a lock, the simulated clock, the settings and
//! the caller's IAM policy; and what every protocol reads of a signed request (its region and
//! service). The server and the protocol handlers all stand on it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;

use super::clock::SimClock;
use super::error::ApiError;
use super::model::World;
use super::persist;
use super::settings::SimSettings;

/// Shared by every request: the world behind a lock, the clock, the settings.
pub struct SimState {
    world: Mutex<World>,
    pub clock: SimClock,
    pub settings: SimSettings,
    state_file: Option<PathBuf>,
    /// The caller's IAM policy (`--iam-policy`, or set through the control API).
    iam: std::sync::RwLock<Option<Arc<iam_rs::IAMPolicy>>>,
}

impl SimState {
    pub fn new(
        world: World,
        clock: SimClock,
        settings: SimSettings,
        state_file: Option<PathBuf>,
    ) -> SimState {
        SimState {
            world: Mutex::new(world),
            clock,
            iam: std::sync::RwLock::new(settings.iam_policy.clone()),
            settings,
            state_file,
        }
    }

    /// Runs `f` on the world advanced to the simulated now. `f` returns its result and whether
    /// it changed the world (then the state file is written).
    pub fn locked<R>(&self, f: impl FnOnce(&mut World, &SimSettings) -> (R, bool)) -> R {
        let mut world = self.world.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now();
        world.advance(now, &self.settings);
        let (result, changed) = f(&mut world, &self.settings);
        if changed {
            self.save(&world);
        }
        result
    }

    /// Reads the world advanced to now.
    pub fn read<R>(&self, f: impl FnOnce(&World, &SimSettings) -> R) -> R {
        self.locked(|w, s| (f(w, s), false))
    }

    /// One AWS operation in `region`: an injected fault for it (in any region, or in this one)
    /// fails it first; a successful mutating call is saved.
    pub fn api<R>(
        &self,
        region: &str,
        operation: &str,
        mutates: bool,
        f: impl FnOnce(&mut World, &SimSettings) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        self.locked(|w, s| {
            if let Some(fault) = w.take_fault(region, operation) {
                tracing::info!(operation, error = fault.code, "injected fault");
                return (Err(fault), true);
            }
            let result = f(w, s);
            let changed = mutates && result.is_ok();
            (result, changed)
        })
    }

    fn save(&self, world: &World) {
        if let Some(path) = &self.state_file {
            if let Err(e) = persist::save(path, world, world.now) {
                tracing::error!(error = %e, "the simulator state was not saved");
            }
        }
    }

    /// IAM, when a policy is set: `action` on `resource` (an ARN) by the simulator's caller,
    /// as IAM evaluates an identity policy (explicit Deny, then Allow, else denied), with
    /// AWS's wording of a refusal.
    pub fn authorize(
        &self,
        action: &str,
        resource: &str,
        context: &[(&str, &str)],
    ) -> Result<(), ApiError> {
        let Some(policy) = self.iam.read().unwrap_or_else(|p| p.into_inner()).clone() else {
            return Ok(());
        };
        let policy = &*policy;
        let caller = format!("arn:aws:iam::{}:user/efs-dr-sim", self.settings.account_id);
        let mut ctx = iam_rs::Context::new();
        for (k, v) in context {
            ctx.insert(k.to_string(), iam_rs::ContextValue::String(v.to_string()));
        }
        let decision = iam_rs::Arn::parse(resource)
            .map_err(|e| format!("{e:?}"))
            .and_then(|arn| {
                let request = iam_rs::IAMRequest::new_with_context(
                    iam_rs::Principal::Aws(iam_rs::PrincipalId::String(caller.clone())),
                    action,
                    arn,
                    ctx,
                );
                iam_rs::evaluate_policy(policy, &request).map_err(|e| format!("{e:?}"))
            });
        match decision {
            Ok(iam_rs::Decision::Allow) => Ok(()),
            Ok(iam_rs::Decision::Deny) => Err(ApiError::new(
                403,
                "AccessDeniedException",
                format!("User: {caller} is not authorized to perform: {action} on resource: {resource} with an explicit deny in an identity-based policy"),
            )),
            Ok(_) => Err(ApiError::new(
                403,
                "AccessDeniedException",
                format!("User: {caller} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"),
            )),
            Err(e) => Err(ApiError::new(
                403,
                "AccessDeniedException",
                format!("User: {caller} is not authorized to perform: {action} on resource: {resource} (the policy could not be evaluated: {e})"),
            )),
        }
    }

    /// Sets (or, with None, lifts) the IAM policy every request is evaluated against.
    pub fn set_iam_policy(&self, policy: Option<Arc<iam_rs::IAMPolicy>>) {
        *self.iam.write().unwrap_or_else(|p| p.into_inner()) = policy;
    }

    pub fn region_down(&self, region: &str) -> bool {
        self.read(|w, _| w.outages.contains(region))
    }

    /// Whether `region` is black-holed; counts the request it holds when it is.
    pub fn holds_request(&self, region: &str) -> bool {
        self.locked(|w, _| {
            let held = w.black_holes.contains(region);
            if held {
                *w.held.entry(region.to_string()).or_default() += 1;
            }
            (held, false)
        })
    }
}

/// The service of a SigV4-signed request's credential scope (`sts`, `monitoring`, ...).
pub fn service_from_headers(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    scope.split('/').nth(3).map(str::to_string)
}

/// The region of a SigV4-signed request: `Credential=AKID/DATE/REGION/SERVICE/aws4_request`.
pub fn region_from_headers(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    let region = scope.split('/').nth(2)?;
    (!region.is_empty()).then(|| region.to_string())
}
