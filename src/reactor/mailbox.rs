//! A worker's inbox: control messages plus a wake-up for anything that
//! changed (a cancel request, an ingress push).

use std::collections::VecDeque;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

/// Messages a worker acts on between turns.
pub enum Control {
    /// Take over a new flow.
    Start(Box<super::FlowTask>),
    /// Cancel every flow, tear everything down and exit.
    Shutdown,
}

struct Inbox {
    messages: VecDeque<Control>,
    woken: bool,
}

/// One per worker.
pub struct Mailbox {
    inbox: Mutex<Inbox>,
    signal: Condvar,
}

impl Default for Mailbox {
    fn default() -> Self {
        Mailbox {
            inbox: Mutex::new(Inbox {
                messages: VecDeque::new(),
                woken: false,
            }),
            signal: Condvar::new(),
        }
    }
}

impl Mailbox {
    pub fn send(&self, msg: Control) {
        self.inbox.lock().messages.push_back(msg);
        self.signal.notify_one();
    }

    /// Wake the worker without a message (state it polls has changed).
    pub fn wake(&self) {
        self.inbox.lock().woken = true;
        self.signal.notify_one();
    }

    /// Take every pending message without blocking.
    pub fn take(&self) -> Vec<Control> {
        let mut inbox = self.inbox.lock();
        inbox.woken = false;
        inbox.messages.drain(..).collect()
    }

    /// Sleep until a message or wake-up arrives, or until `until`.
    pub fn park(&self, until: Option<Instant>) {
        let mut inbox = self.inbox.lock();
        if !inbox.messages.is_empty() || inbox.woken {
            return;
        }
        match until {
            Some(t) => {
                self.signal.wait_until(&mut inbox, t);
            }
            None => self.signal.wait(&mut inbox),
        }
    }
}
