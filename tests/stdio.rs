//! A node granted the host's stdout cannot hold a worker when that stream
//! is full: its writes wait where the call's deadline applies. Alone in its
//! test binary, because it points this process's stdout at a pipe nobody
//! reads.

mod common;

use std::time::Duration;

use common::{N, pipeline};
use torvyn::reactor::FailureKind;
use torvyn::{FlowState, Host};

#[test]
fn a_guest_writing_to_a_full_host_stdout_is_stopped_by_its_deadline() {
    let mut fds = [0; 2];
    // SAFETY: plain POSIX calls on descriptors this test owns; fd 1 is
    // restored before the test returns.
    let saved = unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        let saved = libc::dup(1);
        assert!(saved >= 0);
        assert!(libc::dup2(fds[1], 1) >= 0);
        saved
    };
    let p = pipeline(
        &[
            N("out_src", "counting-source", r#"{"count": 100000, "payload_size": 1000}"#, ""),
            N("out_sink", "printing-sink", "{}", r#"capabilities = ["stdout"]"#),
        ],
        "call_timeout_ms = 300",
    );
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(&p, "main").unwrap().wait(Some(Duration::from_secs(30)));
    // SAFETY: as above; closing the read end ends any write still pending.
    unsafe {
        libc::dup2(saved, 1);
        libc::close(saved);
        libc::close(fds[1]);
        libc::close(fds[0]);
    }
    let s = s.expect("the deadline stops a guest blocked on a full stdout");
    assert_eq!(s.state, FlowState::Failed);
    assert_eq!(s.failure, Some(FailureKind::Deadline), "{:?}", s.error);
    assert!(s.error.unwrap().contains("node `out_sink`"));
    assert!(s.elements > 0 && s.elements < 100_000, "some lines fit in the pipe, then it was full");
}
