#!/usr/bin/env python3
"""Drives `fundq web` in headless Chromium as a person would: signs in, opens
the status page, filters the damaged messages, requeues every match with a
reason, then opens the audit log. Prints one JSON line of what it saw.
Used by Tests/FundqCLITests/WebConsoleTests.swift (Debian: chromium,
chromium-driver, python3-selenium)."""
import argparse
import json
import os
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def browser():
    options = Options()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,860"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--error", required=True)
    parser.add_argument("--reason", required=True)
    parser.add_argument("--screenshots")
    args = parser.parse_args()
    seen = {}
    driver = browser()
    # A click that submits a form returns before the next page has loaded on a loaded machine: every lookup
    # waits (up to a minute) for its element, and a page's title is read after an element of that page is found.
    driver.implicitly_wait(60)

    def shot(name):
        if args.screenshots:
            driver.save_screenshot(os.path.join(args.screenshots, name + ".png"))

    try:
        driver.get(args.url + "/")
        seen["first_page"] = driver.title
        driver.find_element(By.NAME, "actor").send_keys("browser-test")
        driver.find_element(By.NAME, "token").send_keys(args.token)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        seen["queues_table"] = driver.find_element(By.ID, "queues").text
        seen["after_sign_in"] = driver.title
        shot("status")
        query = urllib.parse.urlencode({"queue": args.queue, "error": args.error})
        driver.get(args.url + "/damaged?" + query)
        seen["matched"] = driver.find_element(By.ID, "matched").text
        seen["listed"] = len(driver.find_elements(By.CSS_SELECTOR, "#damaged tr")) - 1
        shot("damaged")
        first = driver.find_element(By.CSS_SELECTOR, "#damaged tr td a")
        first.click()
        seen["message_text"] = driver.find_element(By.TAG_NAME, "pre").text
        seen["message_page"] = driver.title
        shot("damaged-message")
        driver.back()
        bulk = driver.find_element(By.ID, "bulk")
        bulk.find_element(By.NAME, "reason").send_keys(args.reason)
        bulk.find_element(By.ID, "requeue-all").click()
        seen["notice"] = driver.find_element(By.ID, "notice").text
        driver.get(args.url + "/pending")
        seen["pending_title"] = driver.title
        shot("pending")
        driver.get(args.url + "/audit")
        seen["audit_rows"] = len(driver.find_elements(By.CSS_SELECTOR, "#audit tr")) - 1
        shot("audit")
    finally:
        driver.quit()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
