//! A transient QEMU guest of a test's own whose QEMU the test stops (SIGSTOP): a VM that no
//! longer answers its monitor, without touching the lab's guests other test binaries expect.

use std::path::PathBuf;

use super::virsh;

/// Continued, destroyed and its disk removed when dropped.
pub struct StuckGuest {
    uri: String,
    name: &'static str,
    /// The stopped QEMU's PID.
    pub qemu: i32,
    disk: PathBuf,
}

impl StuckGuest {
    /// Starts guest `name` (the shape of tests/lab/libvirt-up.sh's, one 1 MiB raw disk in the
    /// lab directory), running.
    pub fn start(uri: &str, name: &'static str) -> StuckGuest {
        // Left over by a run that was killed before its guard ran.
        virsh(uri, &["destroy", name]);
        let lab = super::lab_dir();
        let disk = lab.join(format!("{name}.raw"));
        std::fs::File::create(&disk)
            .and_then(|f| f.set_len(1 << 20))
            .unwrap();
        let xml = lab.join(format!("{name}.xml"));
        std::fs::write(
            &xml,
            format!(
                "<domain type='qemu'><name>{name}</name>\
                 <memory unit='MiB'>64</memory><vcpu>1</vcpu>\
                 <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>\
                 <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>\
                 <disk type='file' device='disk'><driver name='qemu' type='raw'/>\
                 <source file='{}'/><target dev='vda' bus='virtio'/></disk>\
                 </devices></domain>",
                disk.display()
            ),
        )
        .unwrap();
        let created = virsh(uri, &["create", xml.to_str().unwrap()]);
        std::fs::remove_file(&xml).unwrap();
        assert!(
            created.status.success(),
            "virsh create: {}",
            super::stderr(&created)
        );
        let qemu: i32 = std::fs::read_to_string(format!("/run/libvirt/qemu/{name}.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        StuckGuest {
            uri: uri.to_string(),
            name,
            qemu,
            disk,
        }
    }

    /// Stops its QEMU until the guest is dropped.
    pub fn stop(&self) {
        // SAFETY: kill has no memory effects.
        unsafe { libc::kill(self.qemu, libc::SIGSTOP) };
    }
}

impl Drop for StuckGuest {
    fn drop(&mut self) {
        // SAFETY: kill has no memory effects; a gone process only makes it fail.
        unsafe { libc::kill(self.qemu, libc::SIGCONT) };
        virsh(&self.uri, &["destroy", self.name]);
        let _ = std::fs::remove_file(&self.disk);
    }
}
