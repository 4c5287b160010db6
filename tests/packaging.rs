//! Components travelling as OCI artifacts through a real registry
//! (Debian's `docker-registry`, the CNCF distribution registry, on
//! 127.0.0.1): `torvyn pack`, `publish`, `pull`, `oci://` references,
//! Ed25519 signatures, and every way that goes wrong.

mod common;

use std::path::{Path, PathBuf};

use common::cli::{temp_dir, torvyn_in};
use common::registry::LocalRegistry;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `torvyn args` in `dir` with its own cache and keys (`TORVYN_HOME`).
fn run(dir: &Path, home: &Path, args: &[&str]) -> (i32, String, String) {
    torvyn_in(dir, args, &[("TORVYN_HOME", home.to_str().unwrap())])
}

fn ok(dir: &Path, home: &Path, args: &[&str]) -> String {
    let (code, out, err) = run(dir, home, args);
    assert_eq!(code, 0, "torvyn {args:?} failed:\n{out}\n{err}");
    out
}

/// What the sinks printed (the summary's timing left out), sorted.
fn printed(stdout: &str) -> Vec<String> {
    let mut lines: Vec<String> = stdout.lines().filter(|l| l.starts_with('[')).map(String::from).collect();
    lines.sort();
    lines
}

/// A copy of the committed components and of example `name`, so the copies
/// can be removed after packing.
fn copy_example(work: &Path, name: &str) -> PathBuf {
    let wasm = work.join("components/wasm");
    std::fs::create_dir_all(&wasm).unwrap();
    for e in std::fs::read_dir(repo().join("examples/components/wasm")).unwrap().flatten() {
        std::fs::copy(e.path(), wasm.join(e.file_name())).unwrap();
    }
    let dir = work.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(repo().join("examples").join(name).join("Torvyn.toml"), dir.join("Torvyn.toml")).unwrap();
    dir
}

/// A three-stage project (counting source, uppercase, printing sink) of
/// its own `.wasm` copies.
fn three_stage(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("wasm")).unwrap();
    for c in ["counting-source", "uppercase", "printing-sink"] {
        std::fs::copy(repo().join(format!("examples/components/wasm/{c}.wasm")), dir.join(format!("wasm/{c}.wasm"))).unwrap();
    }
    let manifest = r#"[torvyn]
name = "three"
version = "1.0.0"

[[component]]
name = "source"
path = "wasm/counting-source.wasm"

[[component]]
name = "upper"
path = "wasm/uppercase.wasm"

[[component]]
name = "sink"
path = "wasm/printing-sink.wasm"

[flow.main.nodes.source]
component = "source"
config = { count = 3 }

[flow.main.nodes.upper]
component = "upper"

[flow.main.nodes.sink]
component = "sink"

[[flow.main.edges]]
from = { node = "source", port = "output" }
to = { node = "upper", port = "input" }

[[flow.main.edges]]
from = { node = "upper", port = "output" }
to = { node = "sink", port = "input" }
"#;
    std::fs::write(dir.join("Torvyn.toml"), manifest).unwrap();
    dir.to_path_buf()
}

/// The three-stage manifest with every component an `oci://` reference
/// under `base` (`host/namespace`), tag 1.0.0, and `security` appended.
fn three_stage_oci(dir: &Path, base: &str, security: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut text = std::fs::read_to_string(three_stage(&dir.join("tmp")).join("Torvyn.toml")).unwrap();
    std::fs::remove_dir_all(dir.join("tmp")).unwrap();
    for (file, name) in [("counting-source", "source"), ("uppercase", "upper"), ("printing-sink", "sink")] {
        text = text.replace(&format!("wasm/{file}.wasm"), &format!("oci://{base}/{name}:1.0.0"));
    }
    std::fs::write(dir.join("Torvyn.toml"), format!("{text}\n{security}")).unwrap();
    dir.to_path_buf()
}

const THREE_OUT: [&str; 3] = ["[sink] [seq 0] HELLO, WORLD! (MESSAGE 1)", "[sink] [seq 1] HELLO, WORLD! (MESSAGE 2)", "[sink] [seq 2] HELLO, WORLD! (MESSAGE 3)"];

fn sink_lines(stdout: &str) -> Vec<String> {
    stdout.lines().filter(|l| l.starts_with("[sink] [seq")).map(String::from).collect()
}

/// Push every manifest of the layout `layout` (and its blobs) into
/// `host/repo` with the registry's own API, as someone with write access to
/// the registry would; `retag` moves one tag to another.
fn push_as_attacker(layout: &Path, repo: &str, retag: Option<(&str, &str)>) {
    let layout = torvyn::packaging::Layout::open(layout).unwrap();
    let r = torvyn::packaging::Reference::parse(&format!("oci://{repo}:x")).unwrap();
    let client = torvyn::packaging::Registry::with_credentials(&r, &[], None);
    for (d, tag) in layout.manifests().unwrap() {
        let bytes = layout.blob(&d.digest().to_string()).unwrap();
        for b in torvyn::packaging::manifest_blobs(&bytes).unwrap() {
            client.push_blob(&r.repository, &layout.blob(&b).unwrap()).unwrap();
        }
        let tag = tag.unwrap();
        let tag = match retag {
            Some((from, to)) if tag == from => to.to_string(),
            _ => tag,
        };
        client.push_manifest(&r.repository, &tag, &bytes).unwrap();
    }
}

#[test]
fn bundled_examples_travel_through_the_registry_and_run_from_it_signed() {
    let registry = LocalRegistry::start("examples", None);
    let work = temp_dir("pack-examples");
    let home = work.join("home");
    ok(&work, &home, &["key", "generate"]);
    let trusted = home.join("keys/torvyn.key.pub");
    // Which artifact each committed file becomes (a [[component]] keeps its name).
    let renamed = [("counting-source", "greeter"), ("printing-sink", "printer")];
    for example in ["hello-world", "token-streaming", "fan-out"] {
        let dir = copy_example(&work, example);
        let expected = printed(&ok(&dir, &home, &["run"]));
        assert!(!expected.is_empty(), "{example} printed nothing");
        // Packed reproducibly: a component two examples share packs to the
        // same digest, so publishing it twice is no conflict.
        let (code, packed, err) = torvyn_in(&dir, &["pack", "--sign", "--tag", "1.0"], &[("TORVYN_HOME", home.to_str().unwrap()), ("SOURCE_DATE_EPOCH", "1795000000")]);
        assert_eq!(code, 0, "{err}");
        assert!(packed.contains("signed by key"), "{packed}");
        let dry = ok(&dir, &home, &["publish", "--dry-run", "--registry", &format!("{}/examples", registry.host())]);
        assert!(dry.contains("would publish oci://"), "{dry}");
        // `[registry] default` is where publish goes when no --registry is given.
        let text = std::fs::read_to_string(dir.join("Torvyn.toml")).unwrap();
        std::fs::write(dir.join("Torvyn.toml"), format!("{text}\n[registry]\ndefault = \"http://{}/examples\"\n", registry.host())).unwrap();
        let published = ok(&dir, &home, &["publish"]);
        assert!(published.contains(&format!("published oci://{}/examples/", registry.host())), "{published}");
        std::fs::write(dir.join("Torvyn.toml"), text).unwrap();

        // The local copies go: the components, the artifacts, every cache.
        let text = std::fs::read_to_string(dir.join("Torvyn.toml")).unwrap();
        std::fs::remove_dir_all(work.join("components")).unwrap();
        std::fs::remove_dir_all(dir.join(".torvyn")).unwrap();
        let fresh = work.join(format!("{example}-fresh-home"));
        let mut oci = text.clone();
        for e in std::fs::read_dir(repo().join("examples/components/wasm")).unwrap().flatten() {
            let stem = e.path().file_stem().unwrap().to_string_lossy().into_owned();
            let name = if example == "hello-world" { renamed.iter().find(|(f, _)| *f == stem).map_or(stem.as_str(), |(_, n)| n) } else { stem.as_str() };
            oci = oci.replace(&format!("../components/wasm/{stem}.wasm"), &format!("oci://{}/examples/{name}:1.0", registry.host()));
        }
        assert!(!oci.contains(".wasm"), "a component left as a file:\n{oci}");
        std::fs::copy(&trusted, dir.join("trusted.pub")).unwrap();
        std::fs::write(dir.join("Torvyn.toml"), format!("{oci}\n[security]\nrequire_signatures = true\ntrusted_keys = [\"trusted.pub\"]\n")).unwrap();
        let (code, out, err) = run(&dir, &fresh, &["run"]);
        assert_eq!(code, 0, "{example} from the registry:\n{out}\n{err}");
        assert_eq!(printed(&out), expected, "{example} from the registry printed otherwise");
        // Pulled once: it now runs offline too.
        let (code, out, err) = run(&dir, &fresh, &["run", "--offline"]);
        assert_eq!((code, printed(&out)), (0, expected.clone()), "{example} offline: {err}");
        // `torvyn pull` asks the registry again; `cache ls` lists what was pulled.
        ok(&dir, &fresh, &["pull"]);
        let (code, listed, _) = run(&dir, &fresh, &["--format", "json", "cache", "ls"]);
        assert_eq!(code, 0);
        let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
        assert!(listed["pulled"].as_array().unwrap().iter().any(|p| p["reference"].as_str().unwrap().contains("/examples/")), "{listed}");
    }
}

#[test]
fn unsigned_wrongly_signed_and_tampered_artifacts_never_run() {
    let registry = LocalRegistry::start("trust", None);
    let work = temp_dir("pack-trust");
    let home = work.join("home");
    let project = three_stage(&work.join("project"));
    ok(&work, &home, &["key", "generate", "--output", work.join("team.key").to_str().unwrap()]);
    ok(&work, &home, &["key", "generate", "--output", work.join("other.key").to_str().unwrap()]);
    let publish = |ns: &str, extra: &[&str]| {
        let out = work.join(format!("art-{ns}"));
        let mut args = vec!["pack", "--output", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        ok(&project, &home, &args);
        for c in ["source", "upper", "sink"] {
            let artifact = out.join(c);
            ok(&project, &home, &["publish", "--artifact", artifact.to_str().unwrap(), "--registry", &format!("{}/{ns}", registry.host())]);
        }
    };
    let team = work.join("team.key");
    let other = work.join("other.key");
    publish("good", &["--sign", "--key", team.to_str().unwrap()]);
    publish("wrong", &["--sign", "--key", other.to_str().unwrap()]);
    publish("unsigned", &[]);
    std::fs::copy(work.join("team.key.pub"), work.join("trusted.pub")).unwrap();
    let security = "[security]\nrequire_signatures = true\ntrusted_keys = [\"../trusted.pub\"]\n";

    let good = three_stage_oci(&work.join("run-good"), &format!("{}/good", registry.host()), security);
    let (code, out, err) = run(&good, &work.join("h1"), &["run"]);
    assert_eq!((code, sink_lines(&out)), (0, THREE_OUT.map(String::from).to_vec()), "{err}");

    for (ns, says) in [("wrong", "which is not trusted"), ("unsigned", "is not signed")] {
        let dir = three_stage_oci(&work.join(format!("run-{ns}")), &format!("{}/{ns}", registry.host()), security);
        let (code, out, err) = run(&dir, &work.join(format!("h-{ns}")), &["run"]);
        assert_eq!(code, 1, "{ns} ran:\n{out}\n{err}");
        assert!(err.contains(says) && err.contains("sha256:"), "{ns}: {err}");
        assert!(!out.contains("[sink]"), "{ns}: something ran: {out}");
    }
    // `check`, `link` and `bench` resolve the same references; a digest reference runs too.
    ok(&good, &work.join("h1"), &["check"]);
    let benched = ok(&good, &work.join("h1"), &["bench", "--duration", "300ms", "--warmup", "100ms"]);
    assert!(benched.contains("throughput"), "{benched}");
    let linked = ok(&good, &work.join("h1"), &["link"]);
    assert!(linked.contains("upper"), "{linked}");
    let upper_digest = {
        let (code, out, err) = run(&good, &work.join("h1"), &["--format", "json", "pull", &format!("oci://{}/good/upper:1.0.0", registry.host())]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["pulled"][0]["digest"].as_str().unwrap().to_string()
    };
    let by_digest = work.join("run-digest");
    std::fs::create_dir_all(&by_digest).unwrap();
    let text = std::fs::read_to_string(good.join("Torvyn.toml")).unwrap().replace(&format!("good/upper:1.0.0"), &format!("good/upper@{upper_digest}"));
    std::fs::write(by_digest.join("Torvyn.toml"), text).unwrap();
    let (code, out, err) = run(&by_digest, &work.join("h-digest"), &["run"]);
    assert_eq!((code, sink_lines(&out).len()), (0, 3), "{err}");
    // A key taken off the list stops what it signed, even from the cache.
    let distrust = three_stage_oci(&work.join("run-distrust"), &format!("{}/good", registry.host()), "[security]\nrequire_signatures = true\ntrusted_keys = [\"../other.key.pub\"]\n");
    let (code, out, err) = run(&distrust, &work.join("h1"), &["run", "--offline"]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("which is not trusted"), "{err}");
    // A registry that moves a signed tag to another signed version is caught.
    let v2 = work.join("art-v2");
    let (code, _, err) = torvyn_in(
        &project,
        &["pack", "--component", "upper", "--tag", "2.0.0", "--sign", "--key", team.to_str().unwrap(), "--output", v2.to_str().unwrap()],
        &[("TORVYN_HOME", home.to_str().unwrap()), ("SOURCE_DATE_EPOCH", "7")],
    );
    assert_eq!(code, 0, "{err}");
    let upper_repo = format!("{}/good/upper", registry.host());
    push_as_attacker(&v2.join("upper"), &upper_repo, Some(("2.0.0", "1.0.0")));
    let (code, out, err) = run(&good, &work.join("h-moved"), &["run"]);
    assert_eq!(code, 1, "a moved tag ran: {out}");
    assert!(err.contains("made for tag `2.0.0`, but it is served as `1.0.0`"), "{err}");
    // Another signed component served under this one's name is caught too.
    push_as_attacker(&work.join("art-good/sink"), &upper_repo, None);
    let (code, out, err) = run(&good, &work.join("h-swapped"), &["run"]);
    assert_eq!(code, 1, "a swapped component ran: {out}");
    assert!(err.contains("is for component `sink`, but it is served as `upper`"), "{err}");
    // Put the real one back.
    let good_upper = work.join("art-good/upper");
    ok(&project, &home, &["publish", "--force", "--artifact", good_upper.to_str().unwrap(), "--registry", &format!("{}/good", registry.host())]);
    // `torvyn pull REFERENCE --trusted-key` verifies without a manifest.
    let upper_ref = format!("oci://{}/good/upper:1.0.0", registry.host());
    let other_pub = work.join("other.key.pub");
    let (code, _, err) = run(&work, &work.join("h-pull"), &["pull", &upper_ref, "--trusted-key", other_pub.to_str().unwrap()]);
    assert!(code == 1 && err.contains("which is not trusted"), "{err}");
    let pulled = ok(&work, &work.join("h-pull"), &["pull", &upper_ref, "--trusted-key", work.join("team.key.pub").to_str().unwrap()]);
    assert!(pulled.contains("signed by key"), "{pulled}");

    // Without required signatures the unsigned artifacts run.
    let plain = three_stage_oci(&work.join("run-plain"), &format!("{}/unsigned", registry.host()), "");
    let (code, out, err) = run(&plain, &work.join("h-plain"), &["run"]);
    assert_eq!((code, sink_lines(&out)), (0, THREE_OUT.map(String::from).to_vec()), "{err}");

    // A blob altered in the registry's storage is refused on pull.
    let upper_wasm = std::fs::read(project.join("wasm/uppercase.wasm")).unwrap();
    let digest = torvyn::packaging::digest_of(&upper_wasm);
    let hex = digest.trim_start_matches("sha256:");
    let stored = registry.blob_files().into_iter().find(|p| p.to_string_lossy().contains(hex)).expect("uppercase blob in the registry");
    let mut damaged = upper_wasm.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x5a;
    std::fs::write(&stored, &damaged).unwrap();
    let (code, out, err) = run(&good, &work.join("h2"), &["run"]);
    assert_eq!(code, 1, "tampered blob ran:\n{out}\n{err}");
    assert!(err.contains(&digest) && err.contains("altered"), "{err}");
    assert!(!out.contains("[sink]"));
    // The copy pulled before the damage still verifies and runs offline;
    // altered in the local cache, it is dropped, and offline cannot replace it.
    let (code, out, _) = run(&good, &work.join("h1"), &["run", "--offline"]);
    assert_eq!((code, sink_lines(&out).len()), (0, 3));
    let cached = work.join("h1/cache/oci/blobs/sha256").join(hex);
    std::fs::write(&cached, &damaged).unwrap();
    let (code, _, err) = run(&good, &work.join("h1"), &["run", "--offline"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--offline forbids pulling"), "{err}");
    std::fs::write(&stored, &upper_wasm).unwrap();
    let (code, out, err) = run(&good, &work.join("h1"), &["run"]);
    assert_eq!((code, sink_lines(&out).len()), (0, 3), "pulled again once the registry is sound: {err}");
}

#[test]
fn registry_errors_name_the_reference_and_what_to_do() {
    let registry = LocalRegistry::start("errors", Some(("ci", "s3cret")));
    let work = temp_dir("pack-errors");
    let home = work.join("home");
    let project = three_stage(&work.join("project"));
    ok(&project, &home, &["pack"]);
    let target = format!("{}/team", registry.host());

    // Basic auth: refused without credentials or with wrong ones, accepted with them.
    let (code, _, err) = run(&project, &home, &["publish", "--registry", &target]);
    assert_eq!(code, 1);
    assert!(err.contains("refused the credentials") && err.contains("TORVYN_REGISTRY_USERNAME"), "{err}");
    let host = registry.host();
    let with = |user: &str, password: &str, args: &[&str]| {
        torvyn_in(
            &project,
            args,
            &[("TORVYN_HOME", home.to_str().unwrap()), ("TORVYN_REGISTRY_USERNAME", user), ("TORVYN_REGISTRY_PASSWORD", password), ("TORVYN_REGISTRY_HOST", &host)],
        )
    };
    // Credentials meant for another registry are not sent to this one.
    let (code, _, err) = torvyn_in(
        &project,
        &["publish", "--registry", &target],
        &[("TORVYN_HOME", home.to_str().unwrap()), ("TORVYN_REGISTRY_USERNAME", "ci"), ("TORVYN_REGISTRY_PASSWORD", "s3cret"), ("TORVYN_REGISTRY_HOST", "elsewhere.example:5000")],
    );
    assert!(code == 1 && err.contains("refused the credentials"), "{err}");
    let (code, _, err) = with("ci", "wrong", &["publish", "--registry", &target]);
    assert!(code == 1 && err.contains("refused the credentials"), "{err}");
    let (code, out, err) = with("ci", "s3cret", &["publish", "--registry", &target]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("published oci://").count(), 3, "{out}");
    // Other content under a published tag is a conflict (exit 3) unless forced.
    let (code, _, err) = torvyn_in(&project, &["pack", "--component", "upper"], &[("TORVYN_HOME", home.to_str().unwrap()), ("SOURCE_DATE_EPOCH", "1")]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = with("ci", "s3cret", &["publish", "--registry", &target, "--artifact", ".torvyn/artifacts/upper"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("already exists") && err.contains("--force"), "{err}");
    let (code, _, err) = with("ci", "s3cret", &["publish", "--registry", &target, "--artifact", ".torvyn/artifacts/upper", "--force"]);
    assert_eq!(code, 0, "{err}");
    let oci = three_stage_oci(&work.join("run"), &target, "");
    let (code, out, err) = with("ci", "s3cret", &["run", oci.to_str().unwrap()]);
    assert_eq!((code, sink_lines(&out).len()), (0, 3), "{err}");

    // Unreachable, missing tag, nothing cached offline, not a component.
    let cases: Vec<(String, &str)> = vec![
        ("oci://127.0.0.1:1/team/upper:1.0.0".into(), "cannot be reached"),
        (format!("oci://{target}/upper:9.9.9"), "does not exist"),
        (format!("oci://{target}/nothing:1"), "does not exist"),
    ];
    for (reference, says) in cases {
        let (code, _, err) = with("ci", "s3cret", &["pull", &reference]);
        assert_eq!(code, 1, "{reference}: {err}");
        assert!(err.contains(says) && err.contains(reference.trim_start_matches("oci://").split('/').next().unwrap()), "{reference}: {err}");
    }
    let (code, _, err) = with("ci", "s3cret", &["pull", "--offline", &format!("oci://{target}/never:1")]);
    assert!(code == 1 && err.contains("--offline forbids pulling"), "{err}");

    // An artifact whose component layer is not a component, and one with no component layer.
    let r = torvyn::packaging::Reference::parse(&format!("oci://{target}/fake:1")).unwrap();
    let client = torvyn::packaging::Registry::with_credentials(&r, &[], Some(("ci".into(), "s3cret".into())));
    let config = b"{}".to_vec();
    for (tag, media, layer) in [("text", "application/wasm", b"not a component at all".to_vec()), ("nolayer", "text/plain", b"hello".to_vec())] {
        client.push_blob(&r.repository, &config).unwrap();
        client.push_blob(&r.repository, &layer).unwrap();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.wasm.config.v0+json", "digest": torvyn::packaging::digest_of(&config), "size": config.len()},
            "layers": [{"mediaType": media, "digest": torvyn::packaging::digest_of(&layer), "size": layer.len()}],
        });
        client.push_manifest(&r.repository, tag, &serde_json::to_vec(&manifest).unwrap()).unwrap();
        let (code, _, err) = with("ci", "s3cret", &["pull", &format!("oci://{target}/fake:{tag}")]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("is not a Wasm component artifact"), "{err}");
    }
}

#[test]
fn other_oci_tools_read_what_pack_writes() {
    let skopeo = ["/usr/bin/skopeo"].into_iter().find(|p| Path::new(p).exists()).expect("skopeo is missing: `apt-get install skopeo` (.ci/run installs it)");
    let registry = LocalRegistry::start("skopeo", None);
    let work = temp_dir("pack-skopeo");
    let home = work.join("home");
    let project = three_stage(&work.join("project"));
    ok(&project, &home, &["pack", "--component", "upper", "--output", work.join("upper.tar").to_str().unwrap()]);
    ok(&project, &home, &["pack"]);
    let sk = |args: &[&str]| {
        let out = std::process::Command::new(skopeo).args(args).output().unwrap();
        assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let layout = project.join(".torvyn/artifacts/upper");
    let raw = sk(&["inspect", "--raw", &format!("oci:{}:1.0.0", layout.display())]);
    let manifest: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.wasm.config.v0+json");
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(manifest["annotations"]["org.opencontainers.image.title"], "upper");
    assert_eq!(manifest["annotations"]["dev.torvyn.contract.version"], "0.1.0");
    let config: serde_json::Value = serde_json::from_str(&sk(&["inspect", "--config", "--raw", &format!("oci:{}:1.0.0", layout.display())])).unwrap();
    assert_eq!((config["architecture"].as_str(), config["os"].as_str()), (Some("wasm"), Some("wasip2")));
    assert!(config["component"]["exports"].as_array().unwrap().iter().any(|e| e == "torvyn:streaming/processor@0.1.0"), "{config}");
    assert_eq!(config["torvyn"]["role"], "processor");
    let tar_raw = sk(&["inspect", "--raw", &format!("oci-archive:{}:1.0.0", work.join("upper.tar").display())]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&tar_raw).unwrap()["layers"][0]["digest"], manifest["layers"][0]["digest"]);
    // skopeo copies every packed component into the registry; Torvyn runs them from there.
    for c in ["source", "upper", "sink"] {
        let layout = project.join(".torvyn/artifacts").join(c);
        sk(&["copy", "--dest-tls-verify=false", &format!("oci:{}:1.0.0", layout.display()), &format!("docker://{}/viaskopeo/{c}:1.0.0", registry.host())]);
    }
    let oci = three_stage_oci(&work.join("run"), &format!("{}/viaskopeo", registry.host()), "");
    let (code, out, err) = run(&oci, &home, &["run"]);
    assert_eq!((code, sink_lines(&out)), (0, THREE_OUT.map(String::from).to_vec()), "{err}");
    // `torvyn inspect` reads a layout, a tar of one, and a registry reference.
    let upper = std::fs::read(project.join("wasm/uppercase.wasm")).unwrap();
    let sha = torvyn::packaging::digest_of(&upper).trim_start_matches("sha256:").to_string();
    let reference = format!("oci://{}/viaskopeo/upper:1.0.0", registry.host());
    for target in [layout.to_str().unwrap(), work.join("upper.tar").to_str().unwrap(), reference.as_str()] {
        let (code, out, err) = run(&work, &home, &["--format", "json", "inspect", target]);
        assert_eq!(code, 0, "{target}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!((v["component"].as_str(), v["sha256"].as_str()), (Some("upper"), Some(sha.as_str())), "{target}: {v}");
        assert_eq!(v["contract"]["role"], "torvyn:streaming/processor");
        assert!(v["artifact"]["digest"].as_str().unwrap().starts_with("sha256:"), "{v}");
    }
}

#[test]
fn pack_carries_the_wit_and_the_source_but_nothing_outside_the_crate() {
    let work = temp_dir("pack-source");
    let home = work.join("home");
    // A component crate folder, built (its .wasm where cargo puts it), with
    // things that must not travel: build output, hidden files, a link out.
    let krate = work.join("upper-crate");
    let release = krate.join("target/wasm32-wasip2/release");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::create_dir_all(krate.join("wit")).unwrap();
    std::fs::write(krate.join("Cargo.toml"), "[package]\nname = \"upper-crate\"\nversion = \"0.1.0\"\n").unwrap();
    std::fs::write(krate.join("src/lib.rs"), "// the source\n").unwrap();
    std::fs::write(krate.join("wit/world.wit"), "package example:upper;\n").unwrap();
    std::fs::write(krate.join(".env"), "SECRET=1\n").unwrap();
    std::fs::copy(repo().join("examples/components/wasm/uppercase.wasm"), release.join("upper_crate.wasm")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc/hostname", krate.join("src/outside")).unwrap();
    std::fs::write(work.join("Torvyn.toml"), "[torvyn]\nname = \"p\"\nversion = \"2.0.0\"\n\n[[component]]\nname = \"upper\"\npath = \"upper-crate\"\n").unwrap();
    ok(&work, &home, &["pack", "--include-source"]);

    let layout = torvyn::packaging::Layout::open(&work.join(".torvyn/artifacts/upper")).unwrap();
    let (d, tag) = layout.manifests().unwrap().into_iter().next().unwrap();
    assert_eq!(tag.as_deref(), Some("2.0.0"));
    let manifest: serde_json::Value = serde_json::from_slice(&layout.blob(&d.digest().to_string()).unwrap()).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    let types: Vec<&str> = layers.iter().map(|l| l["mediaType"].as_str().unwrap()).collect();
    assert_eq!(types, ["application/wasm", "application/vnd.torvyn.component.wit.v1+tar", "application/vnd.torvyn.component.source.v1+tar"]);
    let names = |i: usize| -> Vec<String> {
        let bytes = layout.blob(layers[i]["digest"].as_str().unwrap()).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect()
    };
    assert_eq!(names(1), ["world.wit"]);
    assert_eq!(names(2), ["Cargo.toml", "src/lib.rs", "wit/world.wit"], "build output, hidden files and links stay out");
    // Packing again replaces the layout; another folder in the way is refused.
    ok(&work, &home, &["pack"]);
    std::fs::create_dir_all(work.join("elsewhere/upper")).unwrap();
    std::fs::write(work.join("elsewhere/upper/notes.txt"), "mine").unwrap();
    let (code, _, err) = run(&work, &home, &["pack", "--component", "upper", "--output", "elsewhere"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("holds other files"), "{err}");
    assert!(work.join("elsewhere/upper/notes.txt").is_file(), "nothing of it touched");
}
