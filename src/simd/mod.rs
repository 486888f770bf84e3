//! TEMPORARY stub, replaced by the real dispatch module.
#![allow(missing_docs)]
pub mod mask {
    pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }
}
pub mod utf8 {
    #[derive(Debug, Clone, Copy)]
    pub struct Utf8Error;
    pub fn validate(b: &[u8]) -> Result<(), Utf8Error> {
        std::str::from_utf8(b).map(|_| ()).map_err(|_| Utf8Error)
    }
    #[derive(Debug, Default)]
    pub struct Utf8Validator {
        pending: Vec<u8>,
    }
    impl Utf8Validator {
        pub fn new() -> Self {
            Self::default()
        }
        pub fn reset(&mut self) {
            self.pending.clear()
        }
        pub fn feed(&mut self, c: &[u8]) -> Result<(), Utf8Error> {
            self.pending.extend_from_slice(c);
            match std::str::from_utf8(&self.pending) {
                Ok(_) => {
                    self.pending.clear();
                    Ok(())
                }
                Err(e) if e.error_len().is_none() => {
                    let v = e.valid_up_to();
                    self.pending.drain(..v);
                    Ok(())
                }
                Err(_) => Err(Utf8Error),
            }
        }
        pub fn finish(&mut self) -> Result<(), Utf8Error> {
            if self.pending.is_empty() {
                Ok(())
            } else {
                Err(Utf8Error)
            }
        }
    }
}
