//! The two example engines of `examples/engines/` (PocketSphinx recognizer, espeak-ng synthesizer, in Python)
//! pass every case of the kit, credential included.
//!
//! The first run makes a Python venv under the target directory (`python3 -m venv`, then `pip install -r
//! examples/engines/requirements.txt`, which downloads from PyPI); later runs reuse it while the requirements
//! are unchanged. Needs the Debian packages python3-venv, python3-pip, espeak-ng and sox.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

const KEY_VAR: &str = "ENGINE_CHECK_PYTHON_KEY";
const KEY: &str = "python-engines-key";

fn engines_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/engines")
}

/// The venv with the engines' requirements, made once and reused while the requirements are unchanged.
fn venv() -> PathBuf {
    static MAKING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("engine-venv");
    let requirements = engines_dir().join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).expect("examples/engines/requirements.txt");
    let marker = dir.join(".requirements");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .output();
    let ok = matches!(&made, Ok(out) if out.status.success()) && dir.join("bin/pip").exists();
    assert!(
        ok,
        "cannot create a Python venv with `python3 -m venv` ({}): install the Debian packages python3-venv python3-pip",
        match &made {
            Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            Err(e) => e.to_string(),
        }
    );
    let pip = Command::new(dir.join("bin/pip"))
        .args(["install", "--disable-pip-version-check", "-q", "-r"])
        .arg(&requirements)
        .output()
        .expect("cannot run the venv's pip");
    assert!(
        pip.status.success(),
        "pip install -r requirements.txt failed (PyPI must be reachable): {}",
        String::from_utf8_lossy(&pip.stderr)
    );
    std::fs::write(&marker, wanted).unwrap();
    dir
}

/// A running example engine, killed when dropped.
struct Engine {
    child: Child,
    urls: Vec<String>,
}

impl Engine {
    /// Starts `script` with `args` and reads the `listening URL` lines it prints (`lines` of them).
    fn start(script: &str, args: &[&str], lines: usize) -> Engine {
        let python = venv().join("bin/python");
        let mut child = Command::new(python)
            .arg(engines_dir().join(script))
            .args(args)
            .args(["--token-env", KEY_VAR])
            .env(KEY_VAR, KEY)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the example engine");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let mut urls = Vec::new();
        for _ in 0..lines {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(url) => urls.push(url),
                Err(_) => {
                    let _ = child.kill();
                    panic!("{script} did not print where it listens within 120 s");
                }
            }
        }
        Engine { child, urls }
    }

    fn url(&self, scheme: &str) -> &str {
        self.urls
            .iter()
            .find(|u| u.starts_with(scheme))
            .expect("no such URL")
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the kit's binary; returns its report, asserting that every case passed (none skipped).
async fn engine_check(args: &[&str]) -> String {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_engine-check"))
        .args(args)
        .args(["--token-env", KEY_VAR])
        .env(KEY_VAR, KEY)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("engine-check did not finish within 300 s")
        .expect("cannot run engine-check");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "engine-check failed:\n{report}");
    assert!(
        !report.contains("FAIL") && !report.contains("SKIP"),
        "{report}"
    );
    report
}

/// "yes" spoken by espeak-ng, at 8 kHz as on a telephone line, with silence around it.
fn spoken_yes(dir: &Path) -> PathBuf {
    let wide = dir.join("yes.wav");
    let phone = dir.join("yes-8k.wav");
    let run = |program: &str, args: &[&str]| {
        let status = Command::new(program)
            .args(args)
            .status()
            .unwrap_or_else(|e| {
                panic!("cannot run {program} ({e}): install the Debian packages espeak-ng and sox")
            });
        assert!(status.success(), "{program} failed");
    };
    run("espeak-ng", &["-w", wide.to_str().unwrap(), "yes"]);
    run(
        "sox",
        &[
            wide.to_str().unwrap(),
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            phone.to_str().unwrap(),
            "pad",
            "0.3",
            "0.8",
        ],
    );
    phone
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pocketsphinx_engine_passes_the_kit() {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("python-asr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let audio = spoken_yes(&dir);
    let grammar = dir.join("yesno.jsgf");
    std::fs::write(
        &grammar,
        "#JSGF V1.0;\ngrammar yesno;\npublic <answer> = yes | no;\n",
    )
    .unwrap();
    let engine = Engine::start("pocketsphinx_asr.py", &["--port", "0"], 1);
    let report = engine_check(&[
        "asr",
        engine.url("ws://"),
        "--audio",
        audio.to_str().unwrap(),
        "--expect",
        "yes",
        "--jsgf",
        grammar.to_str().unwrap(),
    ])
    .await;
    assert!(
        report.contains("PASS  asr.recognize") && report.contains("PASS  asr.auth"),
        "{report}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_espeak_engine_passes_the_kit_over_websocket_and_http() {
    let engine = Engine::start("espeak_tts.py", &["--port", "0", "--http-port", "0"], 2);
    let report = engine_check(&["tts", engine.url("ws://")]).await;
    assert!(report.contains("PASS  tts.marks"), "{report}");
    let report = engine_check(&["tts", engine.url("http://"), "--sample-rate", "8000"]).await;
    assert!(report.contains("PASS  http.speak"), "{report}");
}
