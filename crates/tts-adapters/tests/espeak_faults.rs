//! The guest rules for the espeak-ng engine with a misbehaving program in espeak-ng's place: a crash, output
//! that is not WAV and a hang each end only their own prompt, with an error naming what happened; a missing
//! program is `Unavailable` and names the Debian package. The stand-in lists one real-looking voice so the
//! engine starts; each behaviour is a small `/bin/sh` script written for the test.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use common::{DEADLINE, collect};
use tts_adapters::espeak::{EspeakConfig, EspeakNg};
use tts_adapters::{EngineErrorKind, SynthesisRequest, Synthesizer};

const LISTING: &str = r#"case "$1" in
--voices) printf 'Pty Language Age/Gender VoiceName File Other Languages\n 2  en-us  --/M  English_(America)  gmw/en-US  (en 3)\n'; exit 0;;
--voices=variant) printf 'Pty Language Age/Gender VoiceName File Other Languages\n'; exit 0;;
esac
cat > /dev/null
"#;

fn script(name: &str, behaviour: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("tts-adapters-{}-{name}.sh", std::process::id()));
    std::fs::write(&path, format!("#!/bin/sh\n{LISTING}{behaviour}\n"))
        .expect("write the stand-in script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .expect("chmod the script");
    path
}

async fn stand_in(name: &str, behaviour: &str, idle_timeout: Duration) -> EspeakNg {
    let config = EspeakConfig {
        program: script(name, behaviour),
        idle_timeout,
        ..EspeakConfig::default()
    };
    tokio::time::timeout(DEADLINE, EspeakNg::new("stand-in", config))
        .await
        .expect("the stand-in listed its voices in time")
        .expect("the stand-in lists a voice")
}

#[tokio::test]
async fn misbehaving_programs_end_only_their_prompt() {
    let missing = EspeakNg::new(
        "espeak",
        EspeakConfig {
            program: PathBuf::from("/nonexistent/espeak-ng"),
            ..EspeakConfig::default()
        },
    )
    .await
    .err()
    .expect("a missing program is an error");
    assert_eq!(missing.kind, EngineErrorKind::Unavailable);
    assert!(
        missing.message.contains("Debian package espeak-ng"),
        "{missing}"
    );

    let crash = stand_in(
        "crash",
        "echo 'boom: voice data corrupt' >&2; exit 3",
        DEADLINE,
    )
    .await;
    let err = collect(crash.start(SynthesisRequest::text("hello")).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind, EngineErrorKind::Internal);
    assert!(err.message.contains("boom: voice data corrupt"), "{err}");

    let garbage = stand_in(
        "garbage",
        "echo 'this is certainly not a wav file'",
        DEADLINE,
    )
    .await;
    let err = collect(garbage.start(SynthesisRequest::text("hello")).unwrap())
        .await
        .unwrap_err();
    assert!(err.message.contains("RIFF/WAVE"), "{err}");

    let silent = stand_in("silent", "exit 0", DEADLINE).await;
    let err = collect(silent.start(SynthesisRequest::text("hello")).unwrap())
        .await
        .unwrap_err();
    assert!(
        err.message.contains("without writing a WAV header"),
        "{err}"
    );

    // A hang: a real process that never writes, so a real (short) idle timeout; paused tokio time cannot
    // be used here, as it would also run out the test's own deadlines while the kill waits for SIGCHLD.
    let hang = stand_in("hang", "exec sleep 1000", Duration::from_millis(200)).await;
    let err = collect(hang.start(SynthesisRequest::text("hello")).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind, EngineErrorKind::Timeout, "{err}");
    tokio::time::timeout(DEADLINE, hang.idle())
        .await
        .expect("the hung process was reaped");
    for name in ["crash", "garbage", "silent", "hang"] {
        let _ = std::fs::remove_file(script(name, "").as_path());
    }
}
