"""One place for the engine's exceptions.

Each subclasses the stdlib type a caller would already catch (ValueError, FileNotFoundError, ...), so code that
does not know StereoFoley still handles them sensibly. Messages name the value, what was allowed, and the unit.
"""


class StereoFoleyError(Exception):
    """Root of every error the engine raises on purpose."""


class InvalidParameter(StereoFoleyError, ValueError):
    """A setting or argument is outside what is allowed."""


class UnknownPreset(InvalidParameter, KeyError):
    """A preset name that does not exist."""

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return str(self.args[0]) if self.args else ""


class InvalidTrajectory(InvalidParameter):
    """A trajectory that is empty, unordered, non-finite or out of range."""


class InvalidAudio(StereoFoleyError, ValueError):
    """Audio that cannot be used: not audio at all, empty, NaN/inf samples, wrong shape."""


class MediaNotFound(StereoFoleyError, FileNotFoundError):
    """A media file (audio or video) that does not exist."""


class OutputExists(StereoFoleyError, FileExistsError):
    """Refusing to overwrite a file the user already has."""


class UnsupportedTimeline(StereoFoleyError, ValueError):
    """A timeline that cannot be read or holds nothing to render."""


class InvalidOscMessage(StereoFoleyError, ValueError):
    """An OSC datagram that is malformed, too large, of the wrong types, or not allowed."""


class SourceUnavailable(StereoFoleyError, LookupError):
    """No sound for an object from a provider: an empty library, no matching file, no audio stream."""


class GeneratorFailed(StereoFoleyError, RuntimeError):
    """A plug-in generator raised, or returned audio that is not finite mono of the requested length."""


class InvalidMedia(StereoFoleyError, ValueError):
    """A media file that cannot be decoded, has no video stream, or a range outside it."""


class MissingWeights(StereoFoleyError, FileNotFoundError):
    """Detector weights that are not on disk (nothing is downloaded at run time)."""


class PathNotAllowed(StereoFoleyError, PermissionError):
    """A file path from a message or a job file that lies outside the configured roots (or escapes them)."""


class InvalidJob(InvalidParameter):
    """A job file (docs/contracts.md §4) that is malformed: wrong version, kind, field type or a relative path."""


class JobCancelled(StereoFoleyError):
    """Raised inside a running job when it is cancelled; the job ends in state "cancelled"."""


class NoAudioDevice(StereoFoleyError, RuntimeError):
    """No usable sound card or JACK server for real-time playback."""


class TimelineNotFound(UnsupportedTimeline, FileNotFoundError):
    """A timeline file that does not exist."""
