//! `torvyn run --input/--output`: data in and out without writing a
//! component, through the embedding endpoints; a 1 GiB input streams in
//! bounded resident memory. (Alone in this file: it measures the peak RSS
//! of its child processes.)

mod common;

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::Stdio;

use common::cli::{command, temp_dir, torvyn_in};
use common::wasm;

/// A project whose flow is the uppercase processor alone.
fn solo(dir: &Path) {
    let manifest = format!(
        "[torvyn]\nname = \"solo\"\nversion = \"0.1.0\"\ncontract_version = \"0.1.0\"\n\n[[component]]\nname = \"upper\"\npath = \"{}\"\n\n[flow.main.nodes.transform]\ncomponent = \"upper\"\ninterface = \"torvyn:streaming/processor\"\n",
        wasm("uppercase")
    );
    std::fs::write(dir.join("Torvyn.toml"), manifest).unwrap();
}

fn max_child_rss_mib() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) }, 0);
    usage.ru_maxrss as f64 / 1024.0
}

#[test]
fn formats_stdin_stdout_and_a_gibibyte_in_bounded_memory() {
    let dir = temp_dir("run-io");
    solo(&dir);

    // Lines from stdin to stdout; the built-in sink prints one per line.
    let mut child = command(&dir, &["--quiet", "run", "--input", "-", "--output", "-"], &[]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"one\r\ntwo\n\nthree").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ONE\nTWO\n\nTHREE\n");

    // Length-prefixed in and out keep binary elements intact.
    let mut framed = Vec::new();
    for payload in [&b"a\nb"[..], b"", b"\x00\xffz"] {
        framed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        framed.extend_from_slice(payload);
    }
    std::fs::write(dir.join("in.bin"), &framed).unwrap();
    let (code, _, err) = torvyn_in(&dir, &["run", "--input", "in.bin", "--input-format", "length-prefixed", "--output", "out.bin", "--output-format", "length-prefixed"], &[]);
    assert_eq!(code, 0, "{err}");
    let mut expected = Vec::new();
    for payload in [&b"A\nB"[..], b"", b"\x00\xffZ"] {
        expected.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        expected.extend_from_slice(payload);
    }
    assert_eq!(std::fs::read(dir.join("out.bin")).unwrap(), expected);
    // A cut-short frame is an error naming the input.
    std::fs::write(dir.join("cut.bin"), [0, 0, 0, 9, b'x']).unwrap();
    let (code, _, err) = torvyn_in(&dir, &["run", "--input", "cut.bin", "--input-format", "length-prefixed", "--output", "x"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("reading --input: an element is cut short"), "{err}");
    // The whole file as one element.
    std::fs::write(dir.join("doc.txt"), "several\nlines\n").unwrap();
    let (code, _, err) = torvyn_in(&dir, &["run", "--input", "doc.txt", "--input-format", "bytes", "--output", "doc.out", "--output-format", "bytes"], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(dir.join("doc.out")).unwrap(), "SEVERAL\nLINES\n");
    let (code, _, err) = torvyn_in(&dir, &["run", "--input", "missing.txt"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("--input `missing.txt` does not exist"), "{err}");

    // Outputs are checked before anything runs.
    let (code, _, err) = torvyn_in(&dir, &["run", "--output", "no/such/dir/out.txt"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot write --output `no/such/dir/out.txt`"), "{err}");
    let (code, _, err) = torvyn_in(&dir, &["--format", "json", "run", "--output", "-"], &[]);
    assert_eq!(code, 2);
    assert!(err.is_empty(), "JSON mode reports in the document: {err}");
    // A length prefix beyond the largest buffer is refused before allocating.
    std::fs::write(dir.join("huge.bin"), [0xff, 0xff, 0xff, 0xff, 1, 2]).unwrap();
    let (code, _, err) = torvyn_in(&dir, &["run", "--input", "huge.bin", "--input-format", "length-prefixed", "--output", "x"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("an element of 4294967295 bytes is longer than the largest buffer (16777216 bytes)"), "{err}");

    // An input that stays open: --limit stops reading, and a failed flow
    // does not wait for more input.
    let wait_exit = |mut child: std::process::Child| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut out = String::new();
                std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
                return (status.code(), out);
            }
            assert!(std::time::Instant::now() < deadline, "torvyn run waited for input after it was done");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    let mut child = command(&dir, &["--quiet", "run", "--input", "-", "--limit", "2"], &[]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"a\nb\nc\n").unwrap();
    stdin.flush().unwrap();
    let (code, out) = wait_exit(child);
    assert_eq!((code, out.as_str()), (Some(0), "A\nB\n"));
    drop(stdin);
    let failing = dir.join("failing");
    std::fs::create_dir_all(&failing).unwrap();
    std::fs::write(
        failing.join("Torvyn.toml"),
        format!("[flow.main.nodes.f]\ncomponent = \"{}\"\nconfig = '{{\"fail_at\": 0, \"error\": \"fatal\"}}'\n", wasm("faulty-processor")),
    )
    .unwrap();
    let mut child = command(&failing, &["run", "--input", "-"], &[]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"boom\n").unwrap();
    stdin.flush().unwrap();
    let (code, _) = wait_exit(child);
    assert_eq!(code, Some(1), "the flow failed; torvyn run ends without waiting for stdin");
    drop(stdin);

    // Two sinks into one --output file: every element of both, whole.
    let fan = dir.join("fan");
    std::fs::create_dir_all(&fan).unwrap();
    std::fs::write(
        fan.join("Torvyn.toml"),
        common::graph_text(
            &[common::N("src", "counting-source", r#"{"count": 50}"#, ""), common::N("a", "printing-sink", "{}", ""), common::N("b", "printing-sink", "{}", "")],
            &[("src", "a"), ("src", "b")],
            "",
        ),
    )
    .unwrap();
    let (code, _, err) = torvyn_in(&fan, &["run", "--output", "both.txt"], &[]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(fan.join("both.txt")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    let mut expected: Vec<String> = (1..=50).flat_map(|i| [format!("Hello, World! (message {i})"), format!("Hello, World! (message {i})")]).collect();
    expected.sort();
    assert_eq!(lines, expected);

    // 1 GiB: 16,384 lines of 64 KiB, streamed from a pipe through the flow
    // into a pipe (nothing touches the disk), every line checked.
    const LINES: u32 = 16_384;
    let prefix = |i: u32| i.to_be_bytes().map(|b| b'a' + b % 26);
    let started = std::time::Instant::now();
    let mut child = command(&dir, &["run", "--input", "-", "--output", "-"], &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let mut line = vec![b'x'; (64 << 10) - 1];
        line.push(b'\n');
        for i in 0..LINES {
            line[..4].copy_from_slice(&prefix(i));
            stdin.write_all(&line)?;
        }
        Ok::<(), std::io::Error>(())
    });
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).map(|_| text)
    });
    let mut out = std::io::BufReader::with_capacity(1 << 20, child.stdout.take().unwrap());
    let tail = vec![b'X'; (64 << 10) - 5];
    let (mut lines, mut bytes) = (0u32, 0u64);
    let mut line = Vec::with_capacity(64 << 10);
    loop {
        line.clear();
        let n = out.read_until(b'\n', &mut line).unwrap();
        if n == 0 {
            break;
        }
        bytes += n as u64;
        let want = prefix(lines).map(|b| b.to_ascii_uppercase());
        assert!(line.len() == 64 << 10 && line[..4] == want && line[4..line.len() - 1] == tail[..], "line {lines} came out changed");
        lines += 1;
    }
    let status = child.wait().unwrap();
    let elapsed = started.elapsed();
    let err = errors.join().unwrap().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(status.success(), "{err}");
    assert_eq!((lines, bytes), (LINES, 1 << 30), "every byte came out, in order");
    assert!(err.contains("elements          16384"), "the summary goes to stderr when the data goes to stdout: {err}");
    let rss = max_child_rss_mib();
    eprintln!("1 GiB through `torvyn run --input/--output`: {:.1} s, peak resident memory of the torvyn process {rss:.1} MiB", elapsed.as_secs_f64());
    assert!(rss < 256.0, "bounded by the queues, not by the input: {rss:.1} MiB");
    std::fs::remove_dir_all(&dir).unwrap();
}
