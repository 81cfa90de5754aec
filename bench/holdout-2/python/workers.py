"""Workers in a TaskGroup whose failures carry a cause; the group is logged."""

from __future__ import annotations

import asyncio


class FetchError(Exception):
    pass


async def fetch(url: str) -> str:
    await asyncio.sleep(0)
    try:
        raise TimeoutError(url)
    except TimeoutError as error:
        raise FetchError(f"{url} failed") from error


async def crawl(urls: list[str]) -> None:
    async with asyncio.TaskGroup() as group:  # @group-with-causes
        for url in urls:
            group.create_task(fetch(url))


def main(urls: list[str]) -> None:
    asyncio.run(crawl(urls))
