#!/usr/bin/env python3
"""Draw custom_components/lwm2m/brand/icon.png (256x256, transparent, trimmed): a device
sending waves, in Home Assistant blue. Run with a Python that has Pillow (.venv has it)."""

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "custom_components/lwm2m/brand"
BLUE, WHITE = (3, 169, 244, 255), (255, 255, 255, 255)


def draw(size: int = 256) -> Image.Image:
    scale = 4  # draw large, then shrink for smooth edges
    s = size * scale
    image = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((0, 0, s - 1, s - 1), radius=s // 5, fill=BLUE)
    # the device
    pen.rounded_rectangle((s * 0.16, s * 0.50, s * 0.46, s * 0.84), radius=s // 28, fill=WHITE)
    pen.ellipse((s * 0.27, s * 0.62, s * 0.35, s * 0.70), fill=BLUE)
    # its waves
    width = int(s * 0.055)
    for n, radius in enumerate((0.13, 0.24, 0.35)):
        r = s * radius
        cx, cy = s * 0.31, s * 0.50
        pen.arc(
            (cx - r + s * 0.12, cy - r - s * 0.06, cx + r + s * 0.12, cy + r - s * 0.06),
            start=-80,
            end=-10,
            fill=WHITE,
            width=width - n * 4,
        )
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    draw().save(OUT / "icon.png", optimize=True)
    draw(512).save(OUT / "icon@2x.png", optimize=True)
    print(f"wrote {OUT}/icon.png and icon@2x.png")


if __name__ == "__main__":
    main()
