// The terminal takes the keyboard as soon as it is drawn: someone who opens an emailed link
// and starts typing types into the form, without clicking into the page first.
(function () {
  var tries = 0;
  var timer = setInterval(function () {
    var input = document.querySelector(".xterm-helper-textarea");
    if (input) {
      input.focus();
    }
    if (input || ++tries > 300) {
      clearInterval(timer);
    }
  }, 100);
})();
