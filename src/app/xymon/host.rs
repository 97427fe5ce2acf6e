//! Which host the messages are for.

/// `--host`, else `$MACHINE` (set by xymonlaunch), else this machine's name.
pub fn message_host(host: Option<&str>) -> String {
    match host {
        Some(h) => h.to_string(),
        None => std::env::var("MACHINE")
            .ok()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(this_host_name),
    }
}

fn this_host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // fails, and we stop at the first NUL either way.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
