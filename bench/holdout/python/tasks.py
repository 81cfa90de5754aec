"""Workers run in an asyncio TaskGroup; two fail and the group raises an ExceptionGroup."""

from __future__ import annotations

import asyncio


async def fetch(url: str) -> str:
    await asyncio.sleep(0)
    if "bad" in url:
        raise ConnectionError(f"cannot reach {url}")
    return url


async def crawl(urls: list[str]) -> list[str]:
    async with asyncio.TaskGroup() as group:  # @task-group
        tasks = [group.create_task(fetch(url)) for url in urls]
    return [task.result() for task in tasks]
