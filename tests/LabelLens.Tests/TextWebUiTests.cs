using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace LabelLens.Tests;

/// <summary>The web UI's text, in Debian's chromium against `serve` with the text analysis on: the lines listed, their boxes drawn, `text:` searches.</summary>
public sealed class TextWebUiTests() : BrowserServerTests(new ServerFixture(new Dictionary<string, string?> { ["Analysis:Tasks"] = "objects,classes,text" }))
{
    [Fact]
    public async Task The_detail_view_lists_and_boxes_the_text_and_text_search_finds_the_card()
    {
        var slate = (await Server.UploadAsync("cards", "slate.png", await TextCards.Get("slate.png"), "image/png")).GetProperty("imageId").GetString()!;
        await Server.UploadAsync("cards", "dog.jpg", TestData.ImageBytes("dog.jpg"));
        var video = (await Server.UploadAsync("films", "slate.mp4", await VideoTestData.TitleCardBetweenPhotosMp4(await TextCards.PathOfAsync("slate.png")), "video/mp4")).GetProperty("imageId").GetString()!;
        // Wait for the text (it lands after the labels).
        var deadline = DateTime.UtcNow.AddSeconds(90);
        foreach (var id in new[] { slate, video })
        {
            while ((await Server.WaitForImageAsync(id)).GetProperty("text").GetArrayLength() == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "no text after 90 s");
                await Task.Delay(100);
            }
        }

        await Chromium.RunAsync(nameof(The_detail_view_lists_and_boxes_the_text_and_text_search_finds_the_card), new() { ViewportSize = new() { Width = 1280, Height = 860 } }, async page =>
        {
            await page.GotoAsync(Base);
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(3);
            await page.Locator("#search-input").FillAsync("text: scene 42");
            await page.Locator("#search-input").PressAsync("Enter");
            await Assertions.Expect(page).ToHaveURLAsync(new Regex("[?&]text=scene"));
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(2);

            // The video: its text occurrences on the timeline and listed with their times.
            await page.Locator($".tile[data-id='{video}'] .tile-link").ClickAsync();
            var timeline = page.Locator("#detail-timeline");
            await Assertions.Expect(timeline.Locator(".tl-text .tl-seg")).ToHaveCountAsync(3);
            await Assertions.Expect(timeline.Locator(".tl-text .tl-seg").First).ToHaveAttributeAsync("aria-label", new Regex("^“SCENE 42” 0:0[23]"));
            await Assertions.Expect(page.Locator("#detail .text-line")).ToHaveCountAsync(3);
            await page.Keyboard.PressAsync("Escape");
            await Assertions.Expect(page.Locator("#detail")).ToBeHiddenAsync();

            // The card.
            await page.Locator($".tile[data-id='{slate}'] .tile-link").ClickAsync();
            await Assertions.Expect(page.Locator(".chip-text")).ToContainTextAsync("scene 42");

            var detail = page.Locator("#detail");
            await Assertions.Expect(detail.Locator(".text-line")).ToHaveCountAsync(3);
            await Assertions.Expect(detail.Locator(".text-line").Nth(2)).ToContainTextAsync("Directed by Ada Lovelace");
            await Assertions.Expect(detail.Locator("#detail-text polygon")).ToHaveCountAsync(3);
            await Assertions.Expect(detail.Locator("#detail-text")).ToHaveClassAsync(new Regex("\\boff\\b"));
            await detail.GetByRole(AriaRole.Button, new() { Name = "Show or hide the text boxes (t)" }).ClickAsync();
            await Assertions.Expect(detail.Locator("#detail-text")).Not.ToHaveClassAsync(new Regex("\\boff\\b"));
            await detail.Locator(".text-line").First.HoverAsync();
            await Assertions.Expect(detail.Locator("#detail-text polygon.lit")).ToHaveCountAsync(1);
            await page.Keyboard.PressAsync("Escape");

            // Removing the text chip shows everything again.
            await page.GetByRole(AriaRole.Button, new() { Name = "Remove text search scene 42" }).ClickAsync();
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(3);
        });
    }
}
