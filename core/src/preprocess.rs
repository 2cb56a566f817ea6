//! Turning an uploaded image into a model input tensor.
//!
//! Decoding is the dangerous step: a 40 KB PNG can declare 100 000 × 100 000 pixels. The
//! header's dimensions are checked against [`DecodeLimits`] *before* any pixel memory is
//! allocated, and the decoder gets an allocation cap as a second line of defence.

use std::io::Cursor;

use image::{imageops::FilterType, DynamicImage, ImageDecoder, ImageReader, Limits};

use crate::error::{Error, Result};

/// Limits checked on the image header before decoding.
///
/// ```
/// let limits = airlock::DecodeLimits::default();
/// assert_eq!(limits.max_pixels, 40_000_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted width.
    pub max_width: u32,
    /// Largest accepted height.
    pub max_height: u32,
    /// Largest accepted width × height.
    pub max_pixels: u64,
}

impl DecodeLimits {
    /// What a decoder may allocate before the pixels: metadata (ICC profiles, text chunks;
    /// real ones are kilobytes, 16 MiB is generous) and per-row buffers, which grow with the
    /// width (8 bytes per pixel at 16 bits per channel with alpha, doubled for filtering).
    fn metadata_budget(&self) -> u64 {
        (16 << 20) + u64::from(self.max_width) * 16
    }
}

impl Default for DecodeLimits {
    /// 10 000 × 10 000 at most, and 40 megapixels in total (a large phone photo is ~12-50 MP).
    fn default() -> Self {
        DecodeLimits { max_width: 10_000, max_height: 10_000, max_pixels: 40_000_000 }
    }
}

/// Channel order the model expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelOrder {
    /// Red, green, blue.
    Rgb,
    /// Blue, green, red (Caffe-era models such as open-nsfw).
    Bgr,
    /// One luminance channel.
    Gray,
}

impl ChannelOrder {
    fn channels(self) -> usize {
        match self {
            ChannelOrder::Gray => 1,
            ChannelOrder::Rgb | ChannelOrder::Bgr => 3,
        }
    }
}

/// Tensor layout of the model input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layout {
    /// `[1, height, width, channels]` (TensorFlow-style).
    Nhwc,
    /// `[1, channels, height, width]` (PyTorch-style).
    Nchw,
    /// `[1, height * width * channels]`: a flat vector (small MLPs such as the digits model).
    Flat,
}

/// How an image becomes the model's input: resize, channel order, normalisation, layout.
///
/// Each channel value is `(pixel * pixel_scale - mean[c]) / std[c]`, with `pixel` in `0..=255`
/// and `c` indexing channels in the model's order.
///
/// ```
/// use airlock::{ChannelOrder, ImagePreprocess, Layout};
/// // open-nsfw: 224×224 BGR minus the Caffe means, NHWC.
/// let p = ImagePreprocess::new(224, 224)
///     .channels(ChannelOrder::Bgr)
///     .mean([104.0, 117.0, 123.0])
///     .layout(Layout::Nhwc);
/// assert_eq!(p.input_shape(), vec![1, 224, 224, 3]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ImagePreprocess {
    width: u32,
    height: u32,
    channels: ChannelOrder,
    pixel_scale: f32,
    mean: [f32; 3],
    std: [f32; 3],
    layout: Layout,
    limits: DecodeLimits,
}

impl ImagePreprocess {
    /// Resize to `width` × `height`, RGB, no normalisation, NHWC, default [`DecodeLimits`].
    pub fn new(width: u32, height: u32) -> Self {
        ImagePreprocess {
            width,
            height,
            channels: ChannelOrder::Rgb,
            pixel_scale: 1.0,
            mean: [0.0; 3],
            std: [1.0; 3],
            layout: Layout::Nhwc,
            limits: DecodeLimits::default(),
        }
    }

    /// Channel order of the model input.
    pub fn channels(mut self, order: ChannelOrder) -> Self {
        self.channels = order;
        self
    }

    /// Multiplier applied to `0..=255` pixel values first (e.g. `1.0 / 255.0`).
    pub fn pixel_scale(mut self, scale: f32) -> Self {
        self.pixel_scale = scale;
        self
    }

    /// Per-channel mean subtracted after scaling, in the model's channel order.
    pub fn mean(mut self, mean: [f32; 3]) -> Self {
        self.mean = mean;
        self
    }

    /// Per-channel divisor applied last, in the model's channel order.
    pub fn std(mut self, std: [f32; 3]) -> Self {
        self.std = std;
        self
    }

    /// Tensor layout.
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Decode limits.
    pub fn limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The shape of the tensor [`ImagePreprocess::tensor`] produces.
    pub fn input_shape(&self) -> Vec<usize> {
        let (h, w, c) = (self.height as usize, self.width as usize, self.channels.channels());
        match self.layout {
            Layout::Nhwc => vec![1, h, w, c],
            Layout::Nchw => vec![1, c, h, w],
            // Saturating: an unvalidated configuration (sizes up to u32::MAX) must not
            // overflow here; `validate` refuses it before any tensor is made.
            Layout::Flat => vec![1, h.saturating_mul(w).saturating_mul(c)],
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |reason: &str| Err(Error::InvalidConfig { reason: reason.to_owned() });
        if self.width == 0 || self.height == 0 || self.width > 8192 || self.height > 8192 {
            return bad("preprocess size must be between 1 and 8192 pixels");
        }
        if !self.pixel_scale.is_finite() || self.mean.iter().any(|m| !m.is_finite()) {
            return bad("preprocess scale and mean must be finite");
        }
        if self.std.iter().any(|s| !s.is_finite() || *s == 0.0) {
            return bad("preprocess std must be finite and non-zero");
        }
        Ok(())
    }

    /// Decodes `bytes` (PNG or JPEG, recognised by content) within the limits and returns the
    /// input tensor's data, shaped as [`ImagePreprocess::input_shape`].
    ///
    /// ```
    /// let err = airlock::ImagePreprocess::new(8, 8).tensor(b"<svg onload=alert(1)>").unwrap_err();
    /// assert_eq!(err.code(), airlock::ErrorCode::ImageDecode);
    /// let bad = airlock::ImagePreprocess::new(8, 8).std([1.0, 0.0, 1.0]).tensor(b"").unwrap_err();
    /// assert_eq!(bad.code(), airlock::ErrorCode::InvalidConfig);
    /// ```
    ///
    /// A configuration that cannot work (zero size, non-finite mean or scale, zero std) is
    /// `invalid_config`, checked here too since the preprocessing can be used without a model.
    pub fn tensor(&self, bytes: &[u8]) -> Result<Vec<f32>> {
        self.validate()?;
        let image = self.decode(bytes)?;
        Ok(self.to_tensor(&image))
    }

    fn decode(&self, bytes: &[u8]) -> Result<DynamicImage> {
        let decode_err = |e: image::ImageError| Error::ImageDecode { reason: e.to_string() };
        let mut reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| Error::ImageDecode { reason: e.to_string() })?;
        // Reading the header allocates no pixel memory, but it does inflate metadata: a PNG
        // iCCP or text chunk of 1 MB can expand to 1 GiB. The png decoder fixes its allocation
        // budget when it is created, so the budget for headers and metadata must be set here,
        // before `into_decoder`. Width and height are left to our own check below, so an
        // oversized image gets a precise error; the pixel budget is applied after it.
        let mut header_limits = Limits::no_limits();
        header_limits.max_alloc = Some(self.limits.metadata_budget());
        reader.limits(header_limits);
        if reader.format().is_none() {
            return Err(Error::ImageDecode { reason: "not a PNG or JPEG image".into() });
        }
        let mut decoder = reader.into_decoder().map_err(decode_err)?;
        let (width, height) = decoder.dimensions();
        let l = self.limits;
        if width == 0 || height == 0 {
            return Err(Error::ImageDecode { reason: "image has no pixels".into() });
        }
        if width > l.max_width || height > l.max_height || u64::from(width) * u64::from(height) > l.max_pixels
        {
            return Err(Error::ImageTooLarge { width, height });
        }
        let mut limits = Limits::default();
        limits.max_image_width = Some(l.max_width);
        limits.max_image_height = Some(l.max_height);
        // Room for the decoded image at 16 bits per channel with alpha, plus decoder buffers.
        limits.max_alloc = Some(l.max_pixels.saturating_mul(8).saturating_add(64 << 20));
        decoder.set_limits(limits).map_err(decode_err)?;
        DynamicImage::from_decoder(decoder).map_err(decode_err)
    }

    fn to_tensor(&self, image: &DynamicImage) -> Vec<f32> {
        let (w, h) = (self.width as usize, self.height as usize);
        let c = self.channels.channels();
        let mut out = vec![0f32; w * h * c];
        let resized = image.resize_exact(self.width, self.height, FilterType::Triangle);
        let norm = |value: u8, ch: usize| (f32::from(value) * self.pixel_scale - self.mean[ch]) / self.std[ch];
        match self.channels {
            ChannelOrder::Gray => {
                let gray = resized.to_luma8();
                for (i, p) in gray.pixels().enumerate() {
                    out[i] = norm(p.0[0], 0);
                }
            }
            order => {
                let rgb = resized.to_rgb8();
                for (i, p) in rgb.pixels().enumerate() {
                    let px = match order {
                        ChannelOrder::Bgr => [p.0[2], p.0[1], p.0[0]],
                        _ => p.0,
                    };
                    for ch in 0..3 {
                        let value = norm(px[ch], ch);
                        let idx = match self.layout {
                            Layout::Nchw => ch * w * h + i,
                            Layout::Nhwc | Layout::Flat => i * 3 + ch,
                        };
                        out[idx] = value;
                    }
                }
            }
        }
        out
    }
}
