"""A Python consumer of an fbench run doing real numpy work on every frame: a grayscale
conversion (ITU-R BT.601 weights) and its mean.

    fbench run --strategy shm --consumers 3 --consumer-cmd 'python3 examples/python/gray_mean.py'

The frames are read in place (zero-copy, read-only numpy views of the shared slot); fbench
measures this process as it measures its own consumers (age, acquire, end-to-end, loss,
integrity stamps, CPU, PSS).
"""

import numpy as np

import fbench

# R, G, B weights of luma.
WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def gray_mean(image, bgr):
    """Mean luma of one frame. Views of the frame live only in this call, so the frame can
    be released as soon as it returns."""
    if image.ndim == 3 and image.shape[2] == 3:
        rgb = image[..., ::-1] if bgr else image
        return float((rgb @ WEIGHTS).mean())
    # gray, or a planar YUV format whose first plane is luma
    return float(image.mean())


def main():
    means = []
    with fbench.consumer() as frames:
        bgr = frames.info["format"] == "bgr24"
        for frame in frames:
            means.append(gray_mean(frame.array, bgr))
    # Something to show the work was done (stdout is ours, not the harness's).
    if means:
        print(f"consumer: {len(means)} frames, mean luma {sum(means) / len(means):.1f}")


if __name__ == "__main__":
    main()
