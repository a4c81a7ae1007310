//! A run asked to stop (SIGINT, SIGTERM): a watch that the CLI fires and the orchestrator and
//! the Terraform runner read at safe points. The library never installs signal handlers.

use tokio::sync::watch;

/// Fires the interrupt (held by whoever listens for signals).
#[derive(Debug)]
pub struct Trigger(watch::Sender<Option<i32>>);

impl Trigger {
    /// Asks the run to stop, for `signal` (2 SIGINT, 15 SIGTERM).
    pub fn fire(&self, signal: i32) {
        let _ = self.0.send(Some(signal));
    }
}

/// What the run reads.
#[derive(Debug, Clone)]
pub struct Interrupt(watch::Receiver<Option<i32>>);

/// A trigger and the interrupt it fires.
pub fn pair() -> (Trigger, Interrupt) {
    let (tx, rx) = watch::channel(None);
    (Trigger(tx), Interrupt(rx))
}

impl Default for Interrupt {
    /// An interrupt that never fires.
    fn default() -> Self {
        let (tx, rx) = watch::channel(None);
        std::mem::forget(tx);
        Interrupt(rx)
    }
}

impl Interrupt {
    /// The signal, once fired.
    pub fn signalled(&self) -> Option<i32> {
        *self.0.borrow()
    }

    /// Waits until fired (forever when it never is).
    pub async fn fired(&self) -> i32 {
        let mut rx = self.0.clone();
        loop {
            if let Some(s) = *rx.borrow_and_update() {
                return s;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The name of a signal number, for messages.
pub fn name(signal: i32) -> &'static str {
    match signal {
        2 => "SIGINT",
        15 => "SIGTERM",
        _ => "a signal",
    }
}
