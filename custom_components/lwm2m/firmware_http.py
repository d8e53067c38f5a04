"""Pull over HTTP(S): images served by Home Assistant's own web server, for devices that fetch by HTTP.

A link is /api/lwm2m/firmware/<token> on Home Assistant's URL (its internal one first): the
token is 128 random bits, good for one update, and asks no login (a device has none). Range
requests are answered (a device resuming a download); progress is what was sent.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web
from homeassistant.core import HomeAssistant
from homeassistant.helpers.http import HomeAssistantView
from homeassistant.helpers.network import NoURLAvailableError, get_url

from .const import DOMAIN
from .lwm2m.firmware.image import FirmwareImage, ImageError, ImageReader
from .lwm2m.firmware.states import PullProtocol

if TYPE_CHECKING:
    from .lwm2m.registration import Registration

URL = "/api/lwm2m/firmware/{token}"
_DATA = f"{DOMAIN}_http_downloads"
_CHUNK = 64 * 1024


@dataclass(slots=True, eq=False)
class _Offer:
    image: FirmwareImage
    on_progress: Callable[[int], None]
    served: int = 0


def _offers(hass: HomeAssistant) -> dict[str, _Offer]:
    offers: dict[str, _Offer] | None = hass.data.get(_DATA)
    if offers is None:
        offers = hass.data[_DATA] = {}
        hass.http.register_view(FirmwareView(offers))
    return offers


class FirmwareView(HomeAssistantView):
    """GET /api/lwm2m/firmware/<token>: one image, for the device its link was written to."""

    url = URL
    name = "api:lwm2m:firmware"
    requires_auth = False

    def __init__(self, offers: dict[str, _Offer]) -> None:
        """Serve offers."""
        self._offers = offers

    async def get(self, request: web.Request, token: str) -> web.StreamResponse:
        """Send the image (or the range asked for)."""
        offer = self._offers.get(token)
        if offer is None:
            raise web.HTTPNotFound(text="no such download (each link serves one update)")
        total = offer.image.size
        try:
            asked = request.http_range
            start, stop = asked.indices(total)[:2] if asked.start is not None or asked.stop is not None else (0, total)
        except ValueError:
            raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{total}"}) from None
        if start >= stop:
            raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{total}"})
        partial_content = (start, stop) != (0, total)
        response = web.StreamResponse(status=206 if partial_content else 200)
        response.content_type = "application/octet-stream"
        response.content_length = stop - start
        response.headers["ETag"] = f'"{offer.image.sha256}"'
        response.headers["Accept-Ranges"] = "bytes"
        if partial_content:
            response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{total}"
        await response.prepare(request)
        reader = ImageReader(offer.image)
        try:
            position = start
            while position < stop:
                if self._offers.get(token) is not offer:
                    break  # the update ended (cancelled, or it gave up): no more of the image
                chunk = await reader.read(position, min(_CHUNK, stop - position))
                await response.write(chunk)
                position += len(chunk)
                if position > offer.served:
                    offer.served = position
                    offer.on_progress(position)
        except ImageError as err:
            raise web.HTTPInternalServerError(text=str(err)) from None
        finally:
            reader.close()
        await response.write_eof()
        return response


class HttpLinks:
    """Makes http(s):// links to images on Home Assistant's web server (firmware.update.Links)."""

    protocols: frozenset[int] = frozenset({PullProtocol.HTTP, PullProtocol.HTTPS})

    def __init__(self, hass: HomeAssistant) -> None:
        """Serve through hass's web server."""
        self.hass = hass

    def link(
        self, reg: Registration, image: FirmwareImage, protocols: frozenset[int], on_progress: Callable[[int], None]
    ) -> tuple[str, Callable[[], None]] | None:
        """Return a link for the device, if it pulls with the scheme of Home Assistant's URL."""
        try:
            base = get_url(self.hass, allow_cloud=False, prefer_external=False)
        except NoURLAvailableError:
            return None
        wanted = PullProtocol.HTTPS if base.startswith("https:") else PullProtocol.HTTP
        if wanted not in protocols:
            return None
        offers = _offers(self.hass)
        token = secrets.token_urlsafe(16)
        offers[token] = _Offer(image, on_progress)

        def close() -> None:
            offers.pop(token, None)

        return f"{base.rstrip('/')}{URL.format(token=token)}", close
