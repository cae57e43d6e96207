//! Records the git commit the binary is built from, for `--version`: from
//! `BUILDBOT_TELEGRAM_GIT_COMMIT` when set, else from git.

fn main() {
    println!("cargo:rerun-if-env-changed=BUILDBOT_TELEGRAM_GIT_COMMIT");
    // a build without .git (the Docker image: see .dockerignore) is told the commit instead
    if let Ok(commit) = std::env::var("BUILDBOT_TELEGRAM_GIT_COMMIT")
        && !commit.trim().is_empty()
    {
        println!(
            "cargo:rustc-env=BUILDBOT_TELEGRAM_GIT_COMMIT={}",
            commit.trim()
        );
        return;
    }
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|commit| !commit.is_empty())
        .unwrap_or_else(|| "unknown commit".to_owned());
    println!("cargo:rustc-env=BUILDBOT_TELEGRAM_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
